"""How much one secret may hold, checked wherever values are written (the API, the admin, the
commands): a value name of at most MAX_KEY_LENGTH characters, a value of at most
settings.SECRETS_MAX_VALUE_BYTES and all of a secret's names and values together at most
settings.SECRETS_MAX_SECRET_BYTES (UTF-8 bytes). The messages name the value, never quote it."""

from django.conf import settings

MAX_KEY_LENGTH = 255


class SecretTooLarge(ValueError):
    """Values over a limit; `field` is where (`values` or `values.<name>`), as a 422 names it."""

    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


def _size(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def check_values(values: dict[str, str]) -> None:
    """Raise SecretTooLarge for the first limit `values` exceeds."""
    total = 0
    for key, value in values.items():
        if len(key) > MAX_KEY_LENGTH:
            raise SecretTooLarge(
                f"values.{key[:40]}…", f"A value name may have at most {MAX_KEY_LENGTH} characters, not {len(key)}."
            )
        size = _size(value)
        if size > settings.SECRETS_MAX_VALUE_BYTES:
            raise SecretTooLarge(
                f"values.{key}",
                f"A secret value may have at most {settings.SECRETS_MAX_VALUE_BYTES} bytes, not {size} "
                "(MLMETA_SECRETS_MAX_VALUE_BYTES).",
            )
        total += _size(key) + size
    if total > settings.SECRETS_MAX_SECRET_BYTES:
        raise SecretTooLarge(
            "values",
            f"A secret's names and values may have at most {settings.SECRETS_MAX_SECRET_BYTES} bytes together, "
            f"not {total} (MLMETA_SECRETS_MAX_SECRET_BYTES).",
        )
