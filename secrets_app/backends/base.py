from abc import ABC, abstractmethod


class BackendUnavailable(Exception):
    """A backend could not be reached or refused MLMeta's credentials.

    The message names the backend, its role and a reason MLMeta words itself: never a server's
    response body or a client library's message, which could quote what was sent.
    """

    def __init__(self, backend: str, role: str, reason: str):
        self.backend, self.role, self.reason = backend, role, reason
        super().__init__(f"Secrets backend '{backend}' ({role}) is unavailable: {reason}.")


class SecretsBackend(ABC):
    """Stores and returns the values of secrets. A `Secret` row keeps the name and the value
    names; its values live in the backends of its tenant (secrets_app.stores).

    `name` is the backend's key in settings.SECRETS_BACKENDS, `role` what the tenant uses it
    for, `config` its SecretBackendConfig (None for backends with nothing to configure).
    Implementations never log values.
    """

    # Writes that are part of the database transaction, so a rollback undoes them too.
    transactional = False

    def __init__(self, name: str, config=None, role: str = "primary"):
        self.name, self.config, self.role = name, config, role

    def __repr__(self):
        return f"<{type(self).__name__} {self.name} ({self.role})>"

    @classmethod
    def config_errors(cls, config) -> dict[str, str]:
        """What is missing or wrong in `config` (a SecretBackendConfig), by field name."""
        return {}

    def unavailable(self, reason: str) -> BackendUnavailable:
        return BackendUnavailable(self.name, self.role, reason)

    def identity(self) -> tuple:
        """Which store this is: two backends with one identity read and write the same values."""
        return (self.name,)

    @abstractmethod
    def get_values(self, secret) -> dict[str, str] | None:
        """All values of `secret`; None if this store holds none for it."""

    @abstractmethod
    def set_values(self, secret, values: dict[str, str]) -> None:
        """Replace all values of `secret` with `values`."""

    @abstractmethod
    def delete_values(self, secret) -> None:
        """Forget the values of `secret` (nothing happens if there are none)."""
