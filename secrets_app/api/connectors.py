"""`/api/v1/service_connectors` and `/api/v1/service_connector_types`.

Secret attributes of a configuration (those the type's schema marks `format: password`) are
stored in an internal secret through the tenant's secrets backend; responses carry them only
where ZenML does: hydrated, with `expand_secrets` (the default), to callers who may read secret
values (the connector's creator, or `secret:read_secret_value` in its tenant). `/client` hands
out usable, preferably short-lived credentials and needs the `client` permission.
"""

import datetime as dt

from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.exceptions import EntityNotFound, RequestValidationError, ZenError
from core.api.filters import _to_bool
from core.api.pagination import paginate
from core.api.timestamps import ts
from core.api.validation import invalid
from core.api.views import ZenViewSet, hydrate_param
from secrets_app import connector_services
from secrets_app import connectors as registry
from secrets_app.api.envelopes import ServiceConnectorEnvelope, type_model
from secrets_app.api.filtersets import ServiceConnectorFilterSet, ServiceConnectorTypeFilterSet
from secrets_app.atomic import atomic_write
from secrets_app.backends import BackendUnavailable
from secrets_app.connector_services import configured, type_name
from secrets_app.connectors import ConnectorConfigError
from secrets_app.connectors.base import Credentials
from secrets_app.models import ServiceConnector
from tenants import rbac

# Update fields that, unlike the others, are replaced by null when left out (ZenML's rule).
CLEARED_WHEN_ABSENT = ("resource_id", "expiration_seconds")


def bool_query(request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return _to_bool(raw)
    except ValueError:
        raise invalid(name, "Input should be a valid boolean", raw, "query") from None


class ServiceConnectorViewSet(ZenViewSet):
    model = ServiceConnector
    envelope_class = ServiceConnectorEnvelope
    filterset_class = ServiceConnectorFilterSet
    create_schema = "ServiceConnectorRequest"
    update_schema = "ServiceConnectorUpdate"
    label = "service connector"
    unique_message = "Found an existing service connector with the same name: `{name}`."

    def validated(self, data, schema_name):
        """Schema errors quote the offending input, sometimes the whole body: the configuration
        (which holds secret values) is checked with its values blanked."""
        if isinstance(data, dict) and data.get("configuration") is not None:
            if not isinstance(data["configuration"], dict):
                raise invalid("configuration", "Input should be a valid dictionary")
            blanked = {**data, "configuration": dict.fromkeys(data["configuration"])}
            super().validated(blanked, schema_name)
            return data
        return super().validated(data, schema_name)

    def handle_exception(self, exc):
        if isinstance(exc, ConnectorConfigError):
            exc = RequestValidationError(str(exc), "ValueError")
        elif isinstance(exc, BackendUnavailable):
            exc = ZenError(str(exc), "RuntimeError", status_code=503)
        return super().handle_exception(exc)

    # --- rendering -------------------------------------------------------------------------
    def may_read_secrets(self, connector) -> bool:
        return rbac.check(self.request.user, "read_secret_value", connector, resource_type="secret")

    def expanded(self, connectors, hydrate: bool) -> dict:
        """The secret values to show, by connector id: none unless hydrated and asked for."""
        if not (hydrate and bool_query(self.request, "expand_secrets", True)):
            return {}
        return {
            c.pk: c.secret_values(self.request.user) for c in connectors if c.secret_id and self.may_read_secrets(c)
        }

    def envelope(self, hydrate: bool, expanded: dict | None = None):
        return self.envelope_class(request=self.request, hydrate=hydrate, expanded=expanded)

    def render(self, obj, hydrate: bool = True) -> dict:
        obj = self.envelope_class.prefetch(self.model.objects.filter(pk=obj.pk), hydrate).get()
        return self.envelope(hydrate, self.expanded([obj], hydrate)).render(obj)

    # --- CRUD ------------------------------------------------------------------------------
    def list(self, request, *args, **kwargs):
        hydrate = hydrate_param(request, False)
        filterset = self.filterset_class(request.query_params, queryset=self.get_queryset(), request=request)
        queryset = filterset.sort(filterset.qs, request.query_params.get("sort_by"))
        rows, page = paginate(self.envelope_class.prefetch(queryset, hydrate), request.query_params)
        page["items"] = self.envelope(hydrate, self.expanded(rows, hydrate)).render_many(rows)
        return Response(page)

    def retrieve(self, request, *args, **kwargs):
        hydrate = hydrate_param(request, True)
        connector = self.get_object(self.envelope_class.prefetch(self.get_queryset(), hydrate))
        return Response(self.envelope(hydrate, self.expanded([connector], hydrate)).render(connector))

    def save_or_conflict(self, save, data):
        with atomic_write():
            return super().save_or_conflict(save, data)

    def perform_create(self, data):
        return connector_services.create_connector(self.request.tenant, self.request.user, data)

    def perform_update(self, connector, data):
        data = {**dict.fromkeys(CLEARED_WHEN_ABSENT), **data}
        return connector_services.update_connector(connector, self.request.user, data)

    def perform_destroy(self, connector):
        connector_services.delete_connector(connector)

    # --- verify, resources, client ---------------------------------------------------------
    @action(detail=False, methods=["post"], url_path="verify", url_name="verify-config")
    def verify_config(self, request):
        """Dry-run a configuration (nothing is stored): which resources can it reach?"""
        data = self.validated(request.data, self.create_schema)
        if not rbac.can(request.user, "create", "service_connector", tenant=request.tenant):
            self.deny("create")
        settings = configured(data)
        kind = registry.connector_type(type_name(data["connector_type"]))
        instance = kind(
            settings.auth_method, {**settings.configuration, **settings.secrets}, data.get("expiration_seconds")
        )
        resource_type = settings.resource_types[0] if len(settings.resource_types) == 1 else None
        result = instance.verify(
            settings.resource_types, resource_type, settings.resource_id, bool_query(request, "list_resources", True)
        )
        return Response({"id": None, "name": data.get("name"), "connector_type": kind.model(), **result})

    @action(detail=True, methods=["put"], url_path="verify")
    def verify(self, request, pk=None):
        connector = self.get_object()
        return Response(
            self.resources_of(
                connector,
                request.query_params.get("resource_type"),
                request.query_params.get("resource_id"),
                bool_query(request, "list_resources", True),
            )
        )

    @action(detail=False, methods=["get"], url_path="resources")
    def resources(self, request):
        """What every connector the caller may read can reach (failures as `error` entries)."""
        filterset = self.filterset_class(request.query_params, queryset=self.get_queryset(), request=request)
        resource_type = request.query_params.get("resource_type") or None
        resource_id = request.query_params.get("resource_id") or None
        results = []
        for connector in filterset.sort(filterset.qs, request.query_params.get("sort_by")):
            try:
                results.append(self.resources_of(connector, resource_type, resource_id, True))
            except ConnectorConfigError:
                continue  # ZenML skips connectors that cannot be verified for the filter
        return Response(results)

    def resources_of(self, connector, resource_type, resource_id, list_resources) -> dict:
        return connector_services.resources_of(connector, self.request.user, resource_type, resource_id, list_resources)

    @action(detail=True, methods=["get"], url_path="client")
    def client(self, request, pk=None):
        """A connector configured with credentials for one resource: short-lived STS ones for
        AWS's temporary methods (with `expires_at`), the stored ones otherwise."""
        connector = self.get_object()
        if not rbac.check(request.user, "client", connector):
            self.deny("client", resource_id=connector.pk)
        resource_type, resource_id = self.client_target(connector)
        issued = connector.instance(self.request.user).client(resource_type, resource_id)
        return Response(self.render_credentials(connector, issued))

    def client_target(self, connector) -> tuple[str, str | None]:
        resource_type = self.request.query_params.get("resource_type") or None
        if resource_type is None:
            if len(connector.resource_types) != 1:
                raise invalid("resource_type", "A multi-type connector needs a resource_type", None, "query")
            resource_type = connector.resource_types[0]
        if resource_type not in connector.resource_types:
            raise invalid(
                "resource_type",
                f"The connector is not configured for '{resource_type}' resources",
                resource_type,
                "query",
            )
        resource_id = self.request.query_params.get("resource_id") or connector.resource_id
        kind = registry.connector_type(connector.connector_type)
        if resource_id is None and kind.resource_spec(resource_type).supports_instances:
            raise invalid("resource_id", f"'{resource_type}' resources need a resource_id", None, "query")
        return resource_type, resource_id

    def render_credentials(self, connector, issued: Credentials) -> dict:
        return {
            "body": {
                "created": ts(connector.created),
                "updated": ts(dt.datetime.now(dt.UTC)),
                "user_id": str(connector.user_id) if connector.user_id else None,
                "description": connector.description,
                "connector_type": type_model(issued.connector_type),
                "auth_method": issued.auth_method,
                "resource_types": [issued.resource_type],
                "resource_id": issued.resource_id,
                "supports_instances": False,
                "expires_at": ts(issued.expires_at),
                "expires_skew_tolerance": connector.expires_skew_tolerance,
            },
            "metadata": {
                "configuration": issued.configuration,
                "expiration_seconds": None,
                "labels": dict(connector.labels or {}),
            },
            "resources": {"user": self.envelope(True).resources(connector)["user"]},
            "id": str(connector.pk),
            "permission_denied": False,
            "name": connector.name,
        }


class ServiceConnectorTypeViewSet(viewsets.ViewSet):
    """The connector types this server implements (settings.SERVICE_CONNECTOR_TYPES)."""

    lookup_url_kwarg = "connector_type"
    lookup_value_regex = "[^/]+"
    filterset_class = ServiceConnectorTypeFilterSet

    def list(self, request):
        wanted = {name: request.query_params.get(name) or None for name in self.filterset_class.base_filters}
        for name, value in wanted.items():
            if value and "\x00" in value:
                raise invalid(name, "Input should not contain NUL characters", value, "query")
        return Response(
            [
                kind.model()
                for kind in registry.connector_types()
                if wanted["connector_type"] in (None, kind.connector_type)
                and kind.matches(wanted["resource_type"], wanted["auth_method"])
            ]
        )

    def retrieve(self, request, connector_type=None):
        try:
            kind = registry.connector_type(connector_type)
        except ConnectorConfigError:
            raise EntityNotFound(f"Service connector type '{connector_type}' is not available.") from None
        return Response(kind.model())
