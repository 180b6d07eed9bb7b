"""Stack pages: the tenant's stacks with their components, and one stack whose components show
their configuration as the flavor's JSON schema rendered read-only (sensitive values masked)."""

import json

from django.db.models import Prefetch, Q
from django.views.generic import ListView, TemplateView

from core.paginators import CappedCountPaginator
from mlmeta.dashboard.base import RegistryPage
from mlmeta.models import Flavor, Stack, StackComponent

MASK = "••••••••"


class StackListView(RegistryPage, ListView):
    template_name = "mlmeta/stack_list.html"
    paginate_by = 50
    paginator_class = CappedCountPaginator
    context_object_name = "stacks"

    def get_queryset(self):
        stacks = self.restrict(Stack)
        if name := self.request.GET.get("name", "").strip():
            stacks = stacks.filter(name__icontains=name)
        components = self.restrict(StackComponent).order_by("type", "name")
        return stacks.prefetch_related(Prefetch("components", components)).order_by("name")


class StackDetailView(RegistryPage, TemplateView):
    """One stack: each component with its flavor and its configuration as a read-only form."""

    template_name = "mlmeta/stack_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        stack = self.get_or_404(self.restrict(Stack), self.kwargs["pk"])
        components = list(self.restrict(StackComponent).filter(stacks=stack).order_by("type", "name"))
        flavors = self.flavors_of(components)
        for component in components:
            flavor = flavors.get((component.type, component.flavor_name))
            component.flavor = flavor
            component.fields = schema_fields((flavor.config_schema if flavor else None) or {}, component.configuration)
        context.update(stack=stack, components=components)
        return context

    def flavors_of(self, components) -> dict:
        """{(type, name): flavor} for the components, in one query."""
        wanted = Q(pk__in=[])
        for component in components:
            wanted |= Q(type=component.type, name=component.flavor_name)
        return {(f.type, f.name): f for f in self.restrict(Flavor).filter(wanted)}


def schema_fields(schema: dict, configuration: dict) -> list[dict]:
    """The form fields of a flavor's JSON schema, filled from `configuration`: name, label, help,
    widget (checkbox / number / json / text) and the shown value. Keys the schema does not
    describe follow as plain fields, so nothing configured is hidden."""
    configuration = configuration or {}
    properties = schema.get("properties") or {}
    fields = [_field(name, spec or {}, configuration, name in configuration) for name, spec in properties.items()]
    fields += [_field(name, {}, configuration, True) for name in configuration if name not in properties]
    return fields


def _field(name: str, spec: dict, configuration: dict, is_set: bool) -> dict:
    value = configuration[name] if is_set else spec.get("default")
    kind = _type_of(spec, value)
    sensitive = bool(spec.get("sensitive") or spec.get("format") == "password")
    if sensitive and value not in (None, "") and not _is_reference(value):
        shown = MASK
    elif kind in ("object", "array") or not isinstance(value, str | int | float | bool | type(None)):
        shown = json.dumps(value, indent=2, ensure_ascii=False)
        kind = "json"
    else:
        shown = "" if value is None else value
    widget = {"boolean": "checkbox", "integer": "number", "number": "number", "json": "json"}.get(kind, "text")
    return {
        "name": name,
        "label": spec.get("title") or name.replace("_", " ").capitalize(),
        "help": spec.get("description", ""),
        "widget": widget,
        "value": shown,
        "is_set": is_set,
        "sensitive": sensitive,
    }


def _type_of(spec: dict, value) -> str:
    """The JSON-schema type, looking through `anyOf` (pydantic's Optional[...])."""
    if "type" in spec:
        return spec["type"]
    for option in spec.get("anyOf") or []:
        if option.get("type") not in (None, "null"):
            return option["type"]
    return {bool: "boolean", int: "integer", float: "number", dict: "object", list: "array"}.get(type(value), "string")


def _is_reference(value) -> bool:
    """A secret reference like `{{secret.key}}` names a secret; it holds no secret value."""
    return isinstance(value, str) and value.startswith("{{") and value.endswith("}}")
