from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string

from secrets_app.backends.base import SecretsBackend


@register()
def check_secrets_backends(app_configs, **kwargs):
    """Every entry of SECRETS_BACKENDS names an importable SecretsBackend, and `sql` exists."""
    errors = []
    backends = getattr(settings, "SECRETS_BACKENDS", {})
    if "sql" not in backends:
        errors.append(Error("SECRETS_BACKENDS has no 'sql' backend, the default of every tenant.", id="secrets.E001"))
    for name, path in backends.items():
        try:
            backend = import_string(path)
        except ImportError as exc:
            errors.append(Error(f"Secrets backend {name!r}: cannot import {path!r} ({exc}).", id="secrets.E002"))
            continue
        if not (isinstance(backend, type) and issubclass(backend, SecretsBackend)):
            errors.append(Error(f"Secrets backend {name!r}: {path!r} is not a SecretsBackend.", id="secrets.E003"))
    return errors


@register()
def check_connector_types(app_configs, **kwargs):
    """Every entry of SERVICE_CONNECTOR_TYPES names an importable ConnectorType of that name."""
    from secrets_app.connectors.base import ConnectorType

    errors = []
    for name, path in getattr(settings, "SERVICE_CONNECTOR_TYPES", {}).items():
        try:
            kind = import_string(path)
        except ImportError as exc:
            errors.append(Error(f"Connector type {name!r}: cannot import {path!r} ({exc}).", id="secrets.E004"))
            continue
        if not (isinstance(kind, type) and issubclass(kind, ConnectorType)) or kind.connector_type != name:
            errors.append(
                Error(f"Connector type {name!r}: {path!r} is not a ConnectorType named {name!r}.", id="secrets.E005")
            )
    return errors
