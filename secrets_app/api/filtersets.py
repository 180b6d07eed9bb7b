from core.api.filters import ZenFilter, ZenFilterSet


class SecretFilterSet(ZenFilterSet):
    name = ZenFilter("name")
    private = ZenFilter("private", kind="bool")
    user = ZenFilter("user", kind="ref", name_field="username")

    sort_fields = ("created", "updated", "id", "name", "private")
