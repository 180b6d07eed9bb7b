from abc import ABC, abstractmethod


class SecretsBackend(ABC):
    """Stores and returns the values of secrets. A `Secret` row keeps the name and the value
    names; its values go through exactly one backend, the one named in `secret.backend`.

    Implementations never log values.
    """

    @abstractmethod
    def get_values(self, secret) -> dict[str, str]:
        """All values of `secret` ({} if none were stored)."""

    @abstractmethod
    def set_values(self, secret, values: dict[str, str]) -> None:
        """Replace all values of `secret` with `values`."""

    @abstractmethod
    def delete_values(self, secret) -> None:
        """Forget the values of `secret` (it is being deleted)."""
