from core.api.envelope import OwnedEnvelope
from core.api.timestamps import ts
from secrets_app.connectors import ConnectorConfigError, connector_type
from tenants.api.envelopes import nested_user


class SecretEnvelope(OwnedEnvelope):
    """Secrets render without values (`values: {}`); the views that may show them fill them in."""

    project_scoped = False

    def body(self, secret) -> dict:
        return {**super().body(secret), "private": secret.private, "values": {}}

    def resources(self, secret) -> dict:
        return {"user": nested_user(secret.user)}

    @classmethod
    def prefetch(cls, queryset, hydrate):
        return queryset.select_related("user")


class ServiceConnectorEnvelope(OwnedEnvelope):
    """A connector with its type's full model (as the real server sends it when it implements the
    type). Secret values appear in `metadata.configuration` only for the connectors whose ids the
    view put in `expanded` (callers allowed to read them, on a hydrated response)."""

    project_scoped = False

    def __init__(self, request=None, hydrate=False, expanded: dict | None = None):
        super().__init__(request, hydrate)
        self.expanded = expanded or {}

    def body(self, connector) -> dict:
        return {
            **super().body(connector),
            "description": connector.description,
            "connector_type": type_model(connector.connector_type),
            "auth_method": connector.auth_method,
            "resource_types": list(connector.resource_types or []),
            "resource_id": connector.resource_id,
            "supports_instances": connector.supports_instances,
            "expires_at": ts(connector.expires_at),
            "expires_skew_tolerance": connector.expires_skew_tolerance,
        }

    def metadata(self, connector) -> dict:
        return {
            "configuration": {**connector.configuration, **self.expanded.get(connector.pk, {})},
            "expiration_seconds": connector.expiration_seconds,
            "labels": dict(connector.labels or {}),
        }

    def resources(self, connector) -> dict:
        return {"user": nested_user(connector.user)}

    @classmethod
    def prefetch(cls, queryset, hydrate):
        return queryset.select_related("user")


def type_model(name: str):
    """The type's ServiceConnectorTypeModel, or the bare name of a type this server lacks."""
    try:
        return connector_type(name).model()
    except ConnectorConfigError:
        return name
