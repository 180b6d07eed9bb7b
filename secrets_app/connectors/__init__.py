"""The service connector types this server implements, by `connector_type`, from
`settings.SERVICE_CONNECTOR_TYPES` (dotted paths, resolved lazily, checked at startup)."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from secrets_app.connectors.base import ConnectorConfigError, ConnectorError, ConnectorType

__all__ = ["ConnectorConfigError", "ConnectorError", "ConnectorType", "connector_type", "connector_types"]


@cache
def _load(path: str) -> type[ConnectorType]:
    return import_string(path)


def connector_types() -> list[type[ConnectorType]]:
    return [_load(path) for path in settings.SERVICE_CONNECTOR_TYPES.values()]


def connector_type(name) -> type[ConnectorType]:
    """The type named `name`; a 422-worthy ConnectorConfigError naming it when there is none."""
    path = settings.SERVICE_CONNECTOR_TYPES.get(name) if isinstance(name, str) else None
    if path is None:
        known = ", ".join(settings.SERVICE_CONNECTOR_TYPES)
        raise ConnectorConfigError(f"Service connector type '{name}' is not available (available: {known}).")
    return _load(path)
