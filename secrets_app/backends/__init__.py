"""Secrets backends: where secret values are kept, by name (settings.SECRETS_BACKENDS)."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from secrets_app.backends.base import SecretsBackend

__all__ = ["SecretsBackend", "get_backend"]


@cache
def get_backend(name: str) -> SecretsBackend:
    """The backend configured under `name`, built once; KeyError for an unknown name."""
    return import_string(settings.SECRETS_BACKENDS[name])()
