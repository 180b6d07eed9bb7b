from tenants.models.base import ProjectOwnedModel, TenantChildModel, TenantOwnedModel
from tenants.models.tenancy import Membership, Organization, Project, Tenant
from tenants.models.users import User

__all__ = [
    "Membership",
    "Organization",
    "Project",
    "ProjectOwnedModel",
    "Tenant",
    "TenantChildModel",
    "TenantOwnedModel",
    "User",
]
