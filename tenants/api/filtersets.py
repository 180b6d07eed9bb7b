from core.api.filters import ZenFilter, ZenFilterSet
from tenants.choices import OAuthDeviceStatus


class UserFilterSet(ZenFilterSet):
    created = ZenFilter("date_joined", kind="datetime")
    name = ZenFilter("username")
    full_name = ZenFilter("full_name")
    email = ZenFilter("email")
    active = ZenFilter("is_active", kind="bool")
    external_user_id = ZenFilter("external_user_id", kind="uuid")

    sort_fields = ("created", "updated", "id", "name", "full_name")

    def sort_paths(self):
        return {"created": "date_joined", "name": "username"}


class ProjectFilterSet(ZenFilterSet):
    name = ZenFilter("name")
    display_name = ZenFilter("display_name")

    sort_fields = ("created", "updated", "id", "name", "display_name")


class ServiceAccountFilterSet(ZenFilterSet):
    created = ZenFilter("date_joined", kind="datetime")
    name = ZenFilter("username")
    description = ZenFilter("description")
    active = ZenFilter("is_active", kind="bool")
    external_user_id = ZenFilter("external_user_id", kind="uuid")

    sort_fields = ("created", "updated", "id", "name")

    def sort_paths(self):
        return {"created": "date_joined", "name": "username"}


class APIKeyFilterSet(ZenFilterSet):
    name = ZenFilter("name")
    description = ZenFilter("description")
    active = ZenFilter("active", kind="bool")
    last_login = ZenFilter("last_login", kind="datetime")
    last_rotated = ZenFilter("last_rotated", kind="datetime")

    sort_fields = ("created", "updated", "id", "name", "last_login", "last_rotated")


class DeviceFilterSet(ZenFilterSet):
    expires = ZenFilter("expires", kind="datetime")
    client_id = ZenFilter("client_id", kind="uuid")
    status = ZenFilter("status", choices=tuple(OAuthDeviceStatus.values))
    trusted_device = ZenFilter("trusted_device", kind="bool")
    failed_auth_attempts = ZenFilter("failed_auth_attempts", kind="int")
    last_login = ZenFilter("last_login", kind="datetime")

    sort_fields = ("created", "updated", "id", "expires", "last_login")
