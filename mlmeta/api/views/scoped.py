"""Base of the project-scoped resources: the body's `project`, tags, and ids resolved through
restricted querysets of the request's tenant."""

from core.api.filters import _to_bool
from core.api.validation import invalid
from core.api.views import ZenViewSet
from mlmeta import tagging
from mlmeta.api import references


def bool_param(request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return _to_bool(raw)
    except ValueError:
        raise invalid(name, "Input should be a valid boolean", raw, "query") from None


class ProjectScopedViewSet(ZenViewSet):
    """`tag_type`: the resource type tags are stored under, if the resource takes tags."""

    tag_type: str | None = None

    def project(self, data):
        return references.resolve_project(self.request, data["project"])

    def ref(self, model, value, field: str, label: str, project=None, select=()):
        if project is not None:
            return references.resolve_in_project(self.request, model, value, field, label, project, select)
        return references.resolve(self.request, model, value, field, label, select=select)

    def add_tags(self, obj, names) -> None:
        if names:
            tagging.apply_tags(self.request.tenant, self.request.user, self.tag_type, obj.pk, names)

    def update_tags(self, obj, data) -> None:
        self.add_tags(obj, data.get("add_tags"))
        if data.get("remove_tags"):
            tagging.remove_tags(self.request.tenant, self.tag_type, obj.pk, data["remove_tags"])

    def perform_destroy(self, obj):
        if self.tag_type:
            tagging.forget_resources(self.tag_type, [obj.pk])
        obj.delete()
