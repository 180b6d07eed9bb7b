from tenants.models.base import ProjectOwnedModel, TenantChildModel, TenantOwnedModel
from tenants.models.devices import DeviceError, OAuthDevice
from tenants.models.service_accounts import APIKey
from tenants.models.tenancy import Membership, Organization, Project, Tenant
from tenants.models.users import User

__all__ = [
    "APIKey",
    "DeviceError",
    "Membership",
    "OAuthDevice",
    "Organization",
    "Project",
    "ProjectOwnedModel",
    "Tenant",
    "TenantChildModel",
    "TenantOwnedModel",
    "User",
]
