from core.api.filters import ZenFilter, ZenFilterSet


class UserFilterSet(ZenFilterSet):
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
