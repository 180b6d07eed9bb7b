from tenants.models.access import Invitation, Role, RoleAssignment, Team
from tenants.models.audit import AppendOnlyError, AuditEvent
from tenants.models.base import ProjectOwnedModel, TenantChildModel, TenantOwnedModel
from tenants.models.devices import DeviceError, OAuthDevice
from tenants.models.service_accounts import APIKey
from tenants.models.sso import OrganizationSSO, SSOIdentity
from tenants.models.tenancy import Membership, Organization, Project, Tenant
from tenants.models.users import User

__all__ = [
    "APIKey",
    "AppendOnlyError",
    "AuditEvent",
    "DeviceError",
    "Invitation",
    "Membership",
    "OAuthDevice",
    "Organization",
    "OrganizationSSO",
    "Project",
    "ProjectOwnedModel",
    "Role",
    "RoleAssignment",
    "SSOIdentity",
    "Team",
    "Tenant",
    "TenantChildModel",
    "TenantOwnedModel",
    "User",
]
