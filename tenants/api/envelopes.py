from core.api.envelope import Envelope, id_or_none
from core.api.timestamps import ts
from tenants import rbac


class UserEnvelope(Envelope):
    name_attr = "username"
    _admin_ids: set | None = None

    def body(self, user) -> dict:
        return {
            "created": ts(user.date_joined),
            "updated": ts(user.updated),
            "active": user.is_active,
            "activation_token": None,
            "full_name": user.full_name,
            "email_opted_in": user.email_opted_in,
            "is_service_account": user.is_service_account,
            "is_admin": self.is_admin(user),
            "default_project_id": None,
            "avatar_url": user.avatar_url,
        }

    def is_admin(self, user) -> bool:
        """Operators, and the admins of the request's tenant (one query per envelope). Users nested
        in other entities are rendered without a request and report operator status only."""
        tenant = getattr(self.request, "tenant", None)
        if user.is_superuser or tenant is None:
            return user.is_superuser
        if self._admin_ids is None:
            self._admin_ids = rbac.tenant_admin_ids(tenant)
        return user.pk in self._admin_ids

    def metadata(self, user) -> dict:
        return {
            "password_changed_at": ts(user.password_changed_at),
            "email": user.email or None,
            "external_user_id": id_or_none(user.external_user_id),
            "user_metadata": user.user_metadata,
            "oidc_claims": {},
        }


def nested_user(user) -> dict | None:
    """The non-hydrated user nested in other entities' `resources`."""
    return None if user is None else UserEnvelope().render(user)


class ProjectEnvelope(Envelope):
    def body(self, project) -> dict:
        return {**super().body(project), "display_name": project.display_name}

    def metadata(self, project) -> dict:
        return {"description": project.description, "project_metadata": project.project_metadata}

    def resources(self, project) -> dict:
        return {}


class ServiceAccountEnvelope(Envelope):
    name_attr = "username"

    def body(self, account) -> dict:
        return {
            "created": ts(account.date_joined),
            "updated": ts(account.updated),
            "full_name": account.full_name,
            "active": account.is_active,
            "avatar_url": account.avatar_url,
        }

    def metadata(self, account) -> dict:
        return {"description": account.description, "external_user_id": id_or_none(account.external_user_id)}


class APIKeyEnvelope(Envelope):
    """An API key; `body.key` is only filled by the views that just created or rotated it."""

    def body(self, key) -> dict:
        return {
            **super().body(key),
            "key": None,
            "active": key.active,
            "service_account": ServiceAccountEnvelope().render(key.service_account),
        }

    def metadata(self, key) -> dict:
        return {
            "description": key.description,
            "retain_period_minutes": key.retain_period_minutes,
            "last_login": ts(key.last_login),
            "last_rotated": ts(key.last_rotated),
        }

    @classmethod
    def prefetch(cls, queryset, hydrate):
        return queryset.select_related("service_account")


class DeviceEnvelope(Envelope):
    name_attr = None

    def body(self, device) -> dict:
        return {
            **super().body(device),
            "user_id": id_or_none(device.user_id),
            "client_id": str(device.client_id),
            "expires": ts(device.expires),
            "trusted_device": device.trusted_device,
            "status": device.status,
            "os": device.os,
            "ip_address": device.ip_address,
            "hostname": device.hostname,
        }

    def metadata(self, device) -> dict:
        return {
            "python_version": device.python_version,
            "zenml_version": device.zenml_version,
            "city": device.city,
            "region": device.region,
            "country": device.country,
            "failed_auth_attempts": device.failed_auth_attempts,
            "last_login": ts(device.last_login),
        }

    def resources(self, device) -> dict:
        return {"user": nested_user(device.user)}

    @classmethod
    def prefetch(cls, queryset, hydrate):
        return queryset.select_related("user")
