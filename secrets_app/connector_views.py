"""Service connector pages: the list, one connector (type, auth method, resources, expiry, the
components that use it, a Verify button), create (type → auth method → the method's fields) and
edit, delete. Writes go through secrets_app.connector_services, the code `/api/v1/service_connectors`
runs: secret attributes are stored through the tenant's secrets backend. Secret values are never
rendered: their inputs are password fields left empty, and a blank one keeps the stored value."""

from django import forms
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect
from django.views import View
from django.views.generic import ListView

from core.paginators import CappedCountPaginator
from core.schema_forms import SchemaForm
from secrets_app import connector_services
from secrets_app import connectors as registry
from secrets_app.atomic import atomic_write
from secrets_app.backends import BackendUnavailable
from secrets_app.connectors import ConnectorConfigError
from secrets_app.models import ServiceConnector
from tenants import rbac
from tenants.resource_pages import ResourcePage

MASK = "••••••••"
STORED = object()  # stands for a stored secret value the form was not shown


class ConnectorForm(forms.Form):
    name = forms.CharField(max_length=255)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    resource_type = forms.ChoiceField(label="Resource type", required=False)
    resource_id = forms.CharField(max_length=255, required=False, label="Resource ID")
    expiration_seconds = forms.IntegerField(required=False, min_value=1, label="Expiration (seconds)")

    def __init__(self, *args, kind, method, **kwargs):
        super().__init__(*args, **kwargs)
        resources = [r for r in kind.resource_types if method.auth_method in kind.methods_for(r)]
        choices = [(r.resource_type, r.name) for r in resources]
        self.all_types = [r.resource_type for r in resources]
        if len(choices) > 1:
            choices.insert(0, ("", "Any of them (multi-type connector)"))
        self.fields["resource_type"].choices = choices
        self.fields["resource_id"].help_text = "For a single resource type that has instances (a bucket, a cluster)."
        if not method.expires:
            del self.fields["expiration_seconds"]

    def resource_types(self) -> list[str]:
        chosen = self.cleaned_data.get("resource_type")
        return [chosen] if chosen else self.all_types


class ConnectorPage(ResourcePage):
    model = ServiceConnector
    label = "service connector"
    atomic = staticmethod(atomic_write)

    def show(self, template, status=200, **context):
        response = super().show(template, status, **context)
        response["Cache-Control"] = "no-store"
        return response


class ConnectorListView(ConnectorPage, ListView):
    template_name = "secrets_app/connector_list.html"
    paginate_by = 50
    paginator_class = CappedCountPaginator
    context_object_name = "connectors"

    def get_queryset(self):
        connectors = self.restrict(ServiceConnector).annotate(component_count=Count("components"))
        if name := self.request.GET.get("name", "").strip():
            connectors = connectors.filter(name__icontains=name)
        return connectors.order_by("name")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        names = {kind.connector_type: kind.name for kind in registry.connector_types()}
        for connector in context["connectors"]:
            connector.type_name = names.get(connector.connector_type, connector.connector_type)
        context["may_create"] = self.may_create()
        return context

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        response["Cache-Control"] = "no-store"
        return response


class ConnectorDetailView(ConnectorPage, View):
    def get(self, request, pk):
        return self.detail(self.readable(pk))

    def detail(self, connector, status=200, **extra):
        try:
            kind = registry.connector_type(connector.connector_type)
            method = kind.auth_method_spec(connector.auth_method)
        except ConnectorConfigError:
            kind = method = None
        secret_keys = connector.secret.keys if connector.secret_id else []
        return self.show(
            "secrets_app/connector_detail.html",
            status,
            connector=connector,
            kind=kind,
            method=method,
            configuration=sorted(connector.configuration.items()),
            secret_keys=secret_keys,
            mask=MASK,
            components=rbac.restrict(connector.components.all(), self.request.user).order_by("type", "name"),
            may_update=self.may("update", connector),
            may_delete=self.may("delete", connector),
            **extra,
        )


class ConnectorVerifyView(ConnectorDetailView):
    """POST: which resources can the stored connector reach? (The API's PUT .../verify.)"""

    http_method_names = ["post"]

    def post(self, request, pk):
        connector = self.readable(pk)
        try:
            result = connector_services.resources_of(connector, request.user)
        except (ConnectorConfigError, BackendUnavailable) as exc:
            result = {"error": str(exc), "resources": []}
        return self.detail(connector, verified=result)


class ConnectorDeleteView(ConnectorDetailView):
    http_method_names = ["post"]

    def post(self, request, pk):
        connector = self.writable(pk, "delete")
        problem = self.remove(connector, connector_services.delete_connector)
        if problem:
            return self.detail(connector, status=409, problem=problem)
        return redirect("connector-list")


class ConnectorCreateView(ConnectorPage, View):
    """GET: choose a type, then an auth method, then fill its fields; POST: create."""

    def get(self, request):
        self.ensure_may_create()
        kind = self.kind_of(request.GET.get("type"))
        if kind is None:
            return self.show("secrets_app/connector_choose.html", kinds=registry.connector_types())
        method = self.method_of(kind, request.GET.get("auth_method"))
        if method is None:
            return self.show("secrets_app/connector_choose.html", kind=kind)
        return self.form_page(kind, method, ConnectorForm(kind=kind, method=method), self.config_form(method))

    def post(self, request):
        self.ensure_may_create()
        kind = self.kind_of(request.POST.get("type")) or self.missing()
        method = self.method_of(kind, request.POST.get("auth_method")) or self.missing()
        form = ConnectorForm(request.POST, kind=kind, method=method)
        config = self.config_form(method, request.POST)
        if not (form.is_valid() & config.is_valid()):
            return self.form_page(kind, method, form, config, status=422)
        data = self.body(kind, method, form, config.configuration())
        connector = self.write(
            "create", lambda: connector_services.create_connector(request.tenant, request.user, data), form
        )
        if connector is None:
            return self.form_page(kind, method, form, config, status=422)
        return redirect("connector-detail", connector.pk)

    @staticmethod
    def kind_of(name):
        try:
            return registry.connector_type(name) if name else None
        except ConnectorConfigError:
            return None

    @staticmethod
    def method_of(kind, name):
        return next((m for m in kind.auth_methods if m.auth_method == name), None)

    @staticmethod
    def missing():
        raise Http404("No such connector type or authentication method.")

    @staticmethod
    def config_form(method, data=None, stored=None):
        return SchemaForm(method.config_schema(), data, stored=stored, prefix="config")

    @staticmethod
    def body(kind, method, form, configuration) -> dict:
        """The ServiceConnectorRequest body the API would receive."""
        data = form.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "connector_type": kind.connector_type,
            "auth_method": method.auth_method,
            "resource_types": form.resource_types(),
            "resource_id": data.get("resource_id") or None,
            "expiration_seconds": data.get("expiration_seconds"),
            "configuration": configuration,
        }

    def write(self, action, save, form, obj=None):
        try:
            return super().write(action, save, form, obj)
        except ConnectorConfigError as exc:
            form.add_error(None, str(exc))
        except BackendUnavailable as exc:
            form.add_error(None, f"The secrets store is unavailable: {exc}")
        return None

    def form_page(self, kind, method, form, config, status=200, connector=None):
        context = {"kind": kind, "method": method, "form": form, "config": config, "connector": connector}
        return self.show("secrets_app/connector_form.html", status, **context)


class ConnectorEditView(ConnectorCreateView):
    def get(self, request, pk):
        connector = self.writable(pk)
        kind, method = self.spec_of(connector)
        initial = {
            "name": connector.name,
            "description": connector.description,
            "resource_type": connector.resource_types[0] if len(connector.resource_types) == 1 else "",
            "resource_id": connector.resource_id,
            "expiration_seconds": connector.expiration_seconds,
        }
        form = ConnectorForm(kind=kind, method=method, initial=initial)
        return self.form_page(
            kind, method, form, self.config_form(method, stored=self.stored(connector)), connector=connector
        )

    def post(self, request, pk):
        connector = self.writable(pk)
        kind, method = self.spec_of(connector)
        form = ConnectorForm(request.POST, kind=kind, method=method)
        config = self.config_form(method, request.POST, stored=self.stored(connector))
        if not (form.is_valid() & config.is_valid()):
            return self.form_page(kind, method, form, config, status=422, connector=connector)

        def save():
            data = self.body(kind, method, form, self.with_stored_secrets(connector, config.configuration()))
            return connector_services.update_connector(connector, request.user, data)

        if self.write("update", save, form, obj=connector) is None:
            connector.refresh_from_db()  # the refused change may have been half applied to the instance
            return self.form_page(kind, method, form, config, status=422, connector=connector)
        return redirect("connector-detail", connector.pk)

    def spec_of(self, connector):
        kind = self.kind_of(connector.connector_type) or self.missing()
        return kind, self.method_of(kind, connector.auth_method) or self.missing()

    @staticmethod
    def stored(connector) -> dict:
        """The configuration with each stored secret as a stand-in (its value is not read)."""
        keys = connector.secret.keys if connector.secret_id else []
        return {**connector.configuration, **dict.fromkeys(keys, STORED)}

    def with_stored_secrets(self, connector, configuration: dict) -> dict:
        """Stand-ins replaced by the stored values (read only when one was kept)."""
        if not any(value is STORED for value in configuration.values()):
            return configuration
        values = connector.secret_values(self.request.user)
        return {k: values.get(k) if v is STORED else v for k, v in configuration.items()}
