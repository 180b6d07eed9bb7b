from core.api.filters import ZenFilter, ZenFilterSet


class OwnedFilterSet(ZenFilterSet):
    """Lists of tenant-owned rows: filter by creator (`user=<id or name>`)."""

    user = ZenFilter("user", kind="ref", name_field="username")


class ProjectScopedFilterSet(OwnedFilterSet):
    """Lists of project-scoped rows: `project=<id or name>`."""

    project = ZenFilter("project", kind="ref")
