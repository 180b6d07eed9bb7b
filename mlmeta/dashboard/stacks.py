"""Stack pages: the tenant's stacks with their components; one stack whose components show their
configuration as the flavor's JSON schema rendered read-only (sensitive values masked); create,
edit (rename, one component per type) and delete, through mlmeta.stack_services (the rules of
`/api/v1/stacks`)."""

import json

from django import forms
from django.db.models import Prefetch, Q
from django.shortcuts import redirect
from django.views import View
from django.views.generic import ListView, TemplateView

from core.paginators import CappedCountPaginator
from mlmeta import stack_services
from mlmeta.choices import StackComponentType
from mlmeta.models import Flavor, Stack, StackComponent
from secrets_app.models import ServiceConnector
from tenants import rbac
from tenants.resource_pages import ResourcePage

MASK = "••••••••"


class StackListView(ResourcePage, ListView):
    model = Stack

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

    def get_context_data(self, **kwargs):
        return super().get_context_data(may_create=self.may_create(), **kwargs)


class StackDetailView(ResourcePage, TemplateView):
    """One stack: each component with its flavor and its configuration as a read-only form."""

    model = Stack
    label = "stack"
    template_name = "mlmeta/stack_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        stack = kwargs.get("stack") or self.get_or_404(self.restrict(Stack), self.kwargs["pk"])
        components = self.restrict(StackComponent).filter(stacks=stack).select_related("connector")
        components = list(components.order_by("type", "name"))
        hide_unreadable_connectors(self.request, components)
        flavors = self.flavors_of(components)
        for component in components:
            flavor = flavors.get((component.type, component.flavor_name))
            component.flavor = flavor
            component.fields = schema_fields((flavor.config_schema if flavor else None) or {}, component.configuration)
        context.update(
            stack=stack,
            components=components,
            is_default=stack_services.is_default_stack(stack),
            may_update=self.may("update", stack),
            may_delete=self.may("delete", stack),
        )
        return context

    def flavors_of(self, components) -> dict:
        """{(type, name): flavor} for the components, in one query."""
        wanted = Q(pk__in=[])
        for component in components:
            wanted |= Q(type=component.type, name=component.flavor_name)
        return {(f.type, f.name): f for f in self.restrict(Flavor).filter(wanted)}


class StackForm(forms.Form):
    """Name, description and one component per type (orchestrator and artifact store required)."""

    name = forms.CharField(max_length=255)
    description = forms.CharField(max_length=255, required=False)

    def __init__(self, *args, components, stack=None, **kwargs):
        super().__init__(*args, **kwargs)
        by_type: dict = {}
        for component in components:
            by_type.setdefault(component.type, []).append(component)
        required_first = sorted(
            StackComponentType.choices, key=lambda c: c[0] not in stack_services.REQUIRED_STACK_COMPONENTS
        )
        for kind, label in required_first:
            required = kind in stack_services.REQUIRED_STACK_COMPONENTS
            self.fields[f"component_{kind}"] = forms.TypedChoiceField(
                label=label,
                required=required,
                choices=[("", "— choose —" if required else "— none —")]
                + [(str(c.pk), f"{c.name} ({c.flavor_name})") for c in by_type.get(kind, [])],
            )
        if stack is not None and stack_services.is_default_stack(stack):
            self.fields["name"].disabled = True
            self.fields["name"].help_text = "The default stack cannot be renamed."

    def components_by_type(self) -> dict:
        """The API's `components` body: {type: [id]}."""
        return {
            kind: [self.cleaned_data[f"component_{kind}"]]
            for kind in StackComponentType.values
            if self.cleaned_data.get(f"component_{kind}")
        }


class StackFormView(ResourcePage, View):
    """Create a stack, or edit one (rename, describe, choose its components)."""

    model = Stack
    label = "stack"

    def get(self, request, pk=None):
        stack = self.writable(pk) if pk else None
        if stack is None:
            self.ensure_may_create()
            return self.form_page(StackForm(components=self.choosable()), None)
        initial = {"name": stack.name, "description": stack.description}
        for component in self.restrict(StackComponent).filter(stacks=stack):
            initial[f"component_{component.type}"] = str(component.pk)
        return self.form_page(StackForm(components=self.choosable(), stack=stack, initial=initial), stack)

    def post(self, request, pk=None):
        stack = self.writable(pk) if pk else None
        if stack is None:
            self.ensure_may_create()
        initial = {"name": stack.name} if stack else {}
        form = StackForm(request.POST, components=self.choosable(), stack=stack, initial=initial)
        if not form.is_valid():
            return self.form_page(form, stack, status=422)
        data, by_type = form.cleaned_data, form.components_by_type()
        if stack is None:
            saved = self.write(
                "create",
                lambda: stack_services.create_stack(
                    request.tenant, request.user, data["name"], by_type, description=data["description"]
                ),
                form,
            )
        else:
            saved = self.write("update", lambda: self.change(stack, data, by_type), form, obj=stack)
        if saved is None:
            return self.form_page(form, stack, status=422)
        return redirect("stack-detail", saved.pk)

    def change(self, stack, data, by_type):
        stack_services.check_rename(stack, data["name"])
        stack.name, stack.description = data["name"], data["description"]
        stack.save()
        stack.components.set(stack_services.resolve_components(self.request.user, self.request.tenant, by_type))
        return stack

    def choosable(self):
        return self.restrict(StackComponent).order_by("type", "name")

    def form_page(self, form, stack, status=200):
        return self.show("mlmeta/stack_form.html", status, form=form, stack=stack)


class StackDeleteView(StackDetailView):
    """POST: delete, unless a rule keeps the stack (the default one); then its page says why."""

    http_method_names = ["post"]

    def post(self, request, pk):
        stack = self.writable(pk, "delete")
        problem = self.remove(stack, stack_services.delete_stack)
        if problem:
            return self.render_to_response(self.get_context_data(stack=stack, problem=problem), status=409)
        return redirect("stack-list")


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


def hide_unreadable_connectors(request, components) -> None:
    """Drop the connector of each component whose connector the user may not read (one query a
    page at most), so its name is not shown: as the API's `permission_denied` envelope does."""
    components = list(components)
    ids = {c.connector_id for c in components}
    readable = rbac.allowed_ids(request.user, "read", ServiceConnector, ids, tenant=request.tenant)
    for component in components:
        if component.connector_id not in readable:
            component.connector = None
