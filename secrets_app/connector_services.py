"""The rules of service connectors, shared by `/api/v1/service_connectors`
(secrets_app.api.connectors) and the dashboard's connector pages (secrets_app.views_connectors):
validating a type / auth method / configuration, storing secret attributes through the tenant's
secrets backend, what may change while components use a connector, deleting, verifying.

Functions raise the API's errors (core.api.exceptions) and ConnectorConfigError (a 422)."""

from core.api.exceptions import IllegalOperationError
from core.api.timestamps import parse_ts
from core.api.validation import invalid
from core.api.views import ZenViewSet
from secrets_app import connectors as registry
from secrets_app.api.envelopes import type_model
from secrets_app.connectors.base import Configured
from secrets_app.models import ServiceConnector


def type_name(value) -> str:
    """A request's `connector_type`: a name, or a whole type model (what the client may send)."""
    if isinstance(value, dict):
        value = value.get("connector_type")
    if not isinstance(value, str):
        raise invalid("connector_type", "Input should be a connector type name", value)
    return value


def configured(data: dict, base: ServiceConnector | None = None) -> Configured:
    """Validate type, auth method, resource types and configuration of a request (an update
    falls back to `base` for what it leaves out, and keeps its configuration when it sends
    none); a ConnectorConfigError is a 422."""
    name = type_name(data["connector_type"]) if data.get("connector_type") is not None else base.connector_type
    configuration = data.get("configuration")
    return registry.connector_type(name).configure(
        data.get("auth_method") or base.auth_method,
        data["resource_types"] if data.get("resource_types") is not None else getattr(base, "resource_types", []),
        data.get("resource_id"),
        configuration if configuration is not None or base is not None else {},
    )


def create_connector(tenant, user, data: dict) -> ServiceConnector:
    """A connector from a ServiceConnectorRequest body; its secret values go to the secrets backend."""
    settings = configured(data)
    connector = ServiceConnector(tenant=tenant, user=user, name=data["name"])
    apply(connector, data, settings)
    ZenViewSet.clean(connector)
    connector.save()
    connector.store_secrets(settings.secrets)
    return connector


def update_connector(connector: ServiceConnector, user, data: dict) -> ServiceConnector:
    """Apply a ServiceConnectorUpdate body (`resource_id` and `expiration_seconds` absent mean
    null); without a configuration the stored one, secrets included, stays."""
    refuse_changes_in_use(connector, data)
    if data.get("name") is not None:
        connector.name = data["name"]
    settings = configured(data, connector)
    if data.get("configuration") is None:
        settings.configuration, settings.secrets = connector.configuration, None
        check_method_fits(connector, user, data)
    apply(connector, data, settings, update=True)
    ZenViewSet.clean(connector)
    connector.save()
    if settings.secrets is not None:
        connector.store_secrets(settings.secrets)
    return connector


def apply(connector, data, settings: Configured, update: bool = False) -> None:
    connector.connector_type = (
        type_name(data["connector_type"]) if data.get("connector_type") else connector.connector_type
    )
    connector.auth_method = settings.auth_method
    connector.resource_types = settings.resource_types
    connector.resource_id = settings.resource_id
    connector.supports_instances = settings.supports_instances
    connector.configuration = settings.configuration
    connector.expiration_seconds = data.get("expiration_seconds")
    for field in ("description", "expires_skew_tolerance", "labels"):
        if data.get(field) is not None or not update:
            setattr(connector, field, data.get(field) if data.get(field) is not None else _empty(field))
    if data.get("expires_at") is not None or not update:
        connector.expires_at = timestamp(data.get("expires_at"))
    kind = registry.connector_type(connector.connector_type)
    kind(connector.auth_method, {}, connector.expiration_seconds).check_expiration()


def check_method_fits(connector, user, data) -> None:
    """An update that changes the type or auth method without a new configuration must
    still leave a valid one."""
    changed = any(
        data.get(field) is not None and data[field] != getattr(connector, field) for field in ("auth_method",)
    ) or (data.get("connector_type") is not None and type_name(data["connector_type"]) != connector.connector_type)
    if changed:
        full = connector.full_configuration(user)
        configured({**data, "configuration": full}, connector)


def refuse_changes_in_use(connector, data) -> None:
    """What components rely on (type, auth method, resources) stays while they use it."""
    if not connector.components.exists():
        return
    wanted = {
        "connector_type": type_name(data["connector_type"]) if data.get("connector_type") else None,
        "auth_method": data.get("auth_method"),
        "resource_types": data.get("resource_types"),
    }
    for field, value in wanted.items():
        if value is not None and value != getattr(connector, field):
            raise IllegalOperationError(
                f"The {field} of a service connector that is already actively used in one or more stack "
                "components cannot be changed."
            )
    if data.get("resource_id") != connector.resource_id:
        raise IllegalOperationError(
            "The resource ID of a service connector that is already actively used in one or more stack "
            "components cannot be changed."
        )


def delete_connector(connector) -> None:
    used = connector.components.count()
    if used:
        raise IllegalOperationError(
            f"Service connector with ID {connector.pk} cannot be deleted as it is still referenced by {used} "
            "stack components. Before deleting this service connector, make sure to remove it from all stack "
            "components."
        )
    connector.delete_with_secret()


def resources_of(connector, user, resource_type=None, resource_id=None, list_resources=True) -> dict:
    """ZenML's ServiceConnectorResourcesModel of a stored connector (its secrets read for `user`)."""
    base = {"id": str(connector.pk), "name": connector.name, "connector_type": type_model(connector.connector_type)}
    instance = connector.instance(user)
    if resource_type is None and len(connector.resource_types) == 1:
        resource_type = connector.resource_types[0]
    resource_id = resource_id or connector.resource_id
    return {**base, **instance.verify(connector.resource_types, resource_type, resource_id, list_resources)}


def timestamp(value):
    try:
        return parse_ts(value)
    except ValueError:
        raise invalid("expires_at", "Input should be a valid datetime", value) from None


def _empty(field: str):
    return {"description": "", "labels": {}}.get(field)
