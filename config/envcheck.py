"""Typed reads of environment variables that fail with ImproperlyConfigured naming the variable."""

import base64
import binascii

from django.core.exceptions import ImproperlyConfigured


class EnvReader:
    """Wraps a django-environ Env so a bad value names its variable instead of raising a bare ValueError."""

    def __init__(self, env):
        self.env = env

    def _read(self, name, reader, default):
        try:
            return reader(name, default=default)
        except ImproperlyConfigured as exc:
            raise ImproperlyConfigured(f"{name}: {exc}") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise ImproperlyConfigured(f"{name} has an invalid value: {exc}") from None

    def str(self, name, default):
        return self._read(name, self.env.str, default)

    def list(self, name, default):
        return [item for item in self._read(name, self.env.list, default) if item]

    def bool(self, name, default):
        raw = self.env.str(name, default="")
        if raw == "":
            return default
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")

    def port(self, name, default):
        raw = self.env.str(name, default=str(default))
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise ImproperlyConfigured(f"{name} must be a TCP port number (1-65535), not {raw!r}.")
        return int(raw)

    def positive_int(self, name, default):
        raw = self.env.str(name, default=str(default))
        if not raw.isdigit() or int(raw) < 1:
            raise ImproperlyConfigured(f"{name} must be a positive whole number, not {raw!r}.")
        return int(raw)

    def choice(self, name, choices, default):
        value = self.env.str(name, default=default)
        if value not in choices:
            raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
        return value

    def db(self, name, default):
        value = self.env.str(name, default=default)
        scheme = value.partition("://")[0]
        if scheme not in self.env.DB_SCHEMES:
            known = ", ".join(sorted(s for s in self.env.DB_SCHEMES if s in ("postgres", "postgresql", "sqlite")))
            raise ImproperlyConfigured(f"{name} has an unsupported scheme {scheme!r} (use one of {known}).")
        try:
            config = self.env.db_url_config(value)
        except Exception as exc:  # django-environ raises several types for malformed URLs
            raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
        if not config.get("ENGINE"):
            raise ImproperlyConfigured(f"{name} uses an unsupported database scheme.")
        return config


def parse_key_list(name: str, raw: str) -> list[tuple[str, bytes]]:
    """Parse "id:base64key,id:base64key" into (id, 32-byte key) pairs; the first is the active key."""
    keys = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key_id, sep, encoded = item.partition(":")
        try:
            key = base64.urlsafe_b64decode(encoded.encode())
        except (binascii.Error, ValueError):
            key = b""
        if not sep or not key_id or len(key) != 32:
            raise ImproperlyConfigured(
                f"{name} must hold comma-separated 'id:key' items, each key 32 bytes in URL-safe base64."
            )
        keys.append((key_id, key))
    if not keys:
        raise ImproperlyConfigured(f"{name} must hold at least one key.")
    if len({key_id for key_id, _ in keys}) != len(keys):
        raise ImproperlyConfigured(f"{name} repeats a key id.")
    return keys
