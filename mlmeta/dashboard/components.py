"""Stack component pages: the list by type, one component (its configuration read-only, the stacks
that use it), create (type → flavor → a form generated from the flavor's JSON schema), edit and
delete. Writes go through mlmeta.stack_services, the rules `/api/v1/components` applies."""

from django import forms
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect
from django.views import View
from django.views.generic import ListView

from core.paginators import CappedCountPaginator
from core.schema_forms import SchemaForm
from mlmeta import stack_services
from mlmeta.choices import StackComponentType
from mlmeta.dashboard.stacks import hide_unreadable_connectors, schema_fields
from mlmeta.models import Flavor, Stack, StackComponent
from secrets_app.models import ServiceConnector
from tenants.resource_pages import ResourcePage


class ComponentForm(forms.Form):
    name = forms.CharField(max_length=255)
    connector = forms.ModelChoiceField(
        queryset=ServiceConnector.objects.none(), required=False, empty_label="— none —", label="Service connector"
    )
    connector_resource_id = forms.CharField(max_length=255, required=False, label="Connector resource ID")

    def __init__(self, *args, connectors, **kwargs):
        super().__init__(*args, **kwargs)
        if connectors is None:  # the flavor takes no connector
            del self.fields["connector"], self.fields["connector_resource_id"]
        else:
            self.fields["connector"].queryset = connectors

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the component a name.")
        return name


class ComponentPage(ResourcePage):
    model = StackComponent
    label = "stack component"

    def connectors(self, flavor, component=None):
        """The connectors the flavor can use (its connector type), None when it uses none."""
        if not flavor.connector_type and not (component and component.connector_id):
            return None
        fitting = Q(connector_type=flavor.connector_type) | Q(pk=getattr(component, "connector_id", None))
        return self.restrict(ServiceConnector).filter(fitting).order_by("name")

    def flavor_of(self, component_type, name):
        flavor = self.restrict(Flavor).filter(type=component_type, name=name).first()
        if flavor is None:
            raise Http404("There is no such flavor in this tenant.")
        return flavor


class ComponentListView(ComponentPage, ListView):
    template_name = "mlmeta/component_list.html"
    paginate_by = 50
    paginator_class = CappedCountPaginator
    context_object_name = "components"

    def get_queryset(self):
        components = self.restrict(StackComponent).annotate(stack_count=Count("stacks", distinct=True))
        if (kind := self.request.GET.get("type", "")) in StackComponentType.values:
            components = components.filter(type=kind)
        if name := self.request.GET.get("name", "").strip():
            components = components.filter(name__icontains=name)
        return components.select_related("connector").order_by("type", "name")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        hide_unreadable_connectors(self.request, context["components"])
        context.update(types=StackComponentType.choices, may_create=self.may_create())
        return context


class ComponentDetailView(ComponentPage, View):
    def get(self, request, pk):
        return self.detail(self.readable(pk))

    def detail(self, component, problem: str = "", status: int = 200):
        flavor = self.restrict(Flavor).filter(type=component.type, name=component.flavor_name).first()
        return self.show(
            "mlmeta/component_detail.html",
            status,
            component=component,
            flavor=flavor,
            connector=self.restrict(ServiceConnector).filter(pk=component.connector_id).first(),
            fields=schema_fields((flavor.config_schema if flavor else None) or {}, component.configuration),
            stacks=self.restrict(Stack).filter(components=component).order_by("name"),
            may_update=self.may("update", component),
            may_delete=self.may("delete", component),
            problem=problem,
        )


class ComponentCreateView(ComponentPage, View):
    """GET: choose a type, then a flavor of it, then fill the flavor's form; POST: create."""

    def get(self, request):
        self.ensure_may_create()
        kind = request.GET.get("type", "")
        if kind not in StackComponentType.values:
            return self.show("mlmeta/component_choose.html", types=StackComponentType.choices)
        flavor_name = request.GET.get("flavor", "")
        if not flavor_name:
            flavors = self.restrict(Flavor).filter(type=kind).order_by("name")
            return self.show("mlmeta/component_choose.html", kind=kind, flavors=flavors, types=[])
        flavor = self.flavor_of(kind, flavor_name)
        form = ComponentForm(connectors=self.connectors(flavor))
        return self.form_page(flavor, form, SchemaForm(flavor.config_schema, prefix="config"))

    def post(self, request):
        self.ensure_may_create()
        flavor = self.flavor_of(request.POST.get("type", ""), request.POST.get("flavor", ""))
        form = ComponentForm(request.POST, connectors=self.connectors(flavor))
        config = SchemaForm(flavor.config_schema, request.POST, prefix="config")
        if not (form.is_valid() & config.is_valid()):
            return self.form_page(flavor, form, config, status=422)
        data = form.cleaned_data

        def save():
            return stack_services.create_component(
                request.tenant,
                request.user,
                data["name"],
                flavor.type,
                flavor.name,
                config.configuration(),
                connector=data.get("connector"),
                connector_resource_id=data.get("connector_resource_id") or None,
            )

        component = self.write("create", save, form)
        if component is None:
            return self.form_page(flavor, form, config, status=422)
        return redirect("component-detail", component.pk)

    def form_page(self, flavor, form, config, status=200, component=None):
        return self.show(
            "mlmeta/component_form.html", status, flavor=flavor, form=form, config=config, component=component
        )


class ComponentEditView(ComponentCreateView):
    def get(self, request, pk):
        component = self.writable(pk)
        form = ComponentForm(
            connectors=self.connectors(self.flavor_shown(component), component),
            initial={
                "name": component.name,
                "connector": component.connector_id,
                "connector_resource_id": component.connector_resource_id,
            },
        )
        config = SchemaForm(self.schema_of(component), stored=component.configuration, prefix="config")
        return self.form_page(self.flavor_shown(component), form, config, component=component)

    def post(self, request, pk):
        component = self.writable(pk)
        flavor = self.flavor_shown(component)
        form = ComponentForm(request.POST, connectors=self.connectors(flavor, component))
        config = SchemaForm(self.schema_of(component), request.POST, stored=component.configuration, prefix="config")
        if not (form.is_valid() & config.is_valid()):
            return self.form_page(flavor, form, config, status=422, component=component)
        data = form.cleaned_data

        def save():
            stack_services.change_component(component, data["name"], config.configuration())
            if "connector" in form.fields:
                component.connector = data["connector"]
                component.connector_resource_id = data["connector_resource_id"] or None
            component.save()
            return component

        if self.write("update", save, form, obj=component) is None:
            component.refresh_from_db()  # the refused change may have been half applied to the instance
            return self.form_page(flavor, form, config, status=422, component=component)
        return redirect("component-detail", component.pk)

    def flavor_shown(self, component):
        flavor = self.restrict(Flavor).filter(type=component.type, name=component.flavor_name).first()
        return flavor or Flavor(type=component.type, name=component.flavor_name)

    def schema_of(self, component):
        return self.flavor_shown(component).config_schema or {}


class ComponentDeleteView(ComponentDetailView):
    """POST: delete, unless a rule keeps the component (then its page says why)."""

    http_method_names = ["post"]

    def post(self, request, pk):
        component = self.writable(pk, "delete")
        problem = self.remove(component, stack_services.delete_component)
        if problem:
            return self.detail(component, problem, status=409)
        return redirect("component-list")
