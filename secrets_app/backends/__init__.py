"""Secrets backends: where secret values are kept, by name (settings.SECRETS_BACKENDS)."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from secrets_app.backends.base import BackendUnavailable, SecretsBackend

__all__ = ["BackendUnavailable", "SecretsBackend", "build", "get_backend"]


@cache
def backend_class(name: str) -> type[SecretsBackend]:
    """The class configured under `name`; KeyError for an unknown name."""
    return import_string(settings.SECRETS_BACKENDS[name])


def build(name: str, config=None, role: str = "primary") -> SecretsBackend:
    """The backend `name` as one tenant configured it (`config`, a SecretBackendConfig) in `role`."""
    return backend_class(name)(name, config, role)


@cache
def get_backend(name: str) -> SecretsBackend:
    """The backend `name` without tenant configuration (enough for `sql`), built once."""
    return build(name)
