"""A tenant's secret values across its backends.

The primary is `Tenant.secrets_backend` (configured by its SecretBackendConfig row of role
`primary`, if it needs one); a `backup` row adds a second copy; while `migrate_secrets` runs, a
`target` row adds a third. Every write goes to all of them, all or nothing, so any of them can
answer a read when the ones before it fail.
"""

import copy
import logging

from secrets_app.atomic import atomic_write, on_failure
from secrets_app.backends import BackendUnavailable, SecretsBackend, build
from secrets_app.choices import BackendRole
from secrets_app.models import SecretBackendConfig

logger = logging.getLogger(__name__)

READ_ORDER = (BackendRole.PRIMARY, BackendRole.BACKUP, BackendRole.TARGET)


def tenant_store(tenant, roles=READ_ORDER) -> "TenantStore":
    """The backends of `tenant` in `roles`, in that order (the primary is always first)."""
    configs = {config.role: config for config in SecretBackendConfig.objects.filter(tenant=tenant)}
    backends = []
    for role in roles:
        config = configs.get(role)
        if role == BackendRole.PRIMARY:
            usable = config if config is not None and config.backend == tenant.secrets_backend else None
            backends.append(build(tenant.secrets_backend, usable, role))
        elif config is not None:
            backends.append(build(config.backend, config, role))
    return TenantStore(backends)


class TenantStore:
    """Reads from the first backend that has the values; writes to every backend or to none."""

    def __init__(self, backends: list[SecretsBackend]):
        unique = {}
        for backend in backends:  # a target that is also the backup is written once
            unique.setdefault(backend.identity(), backend)
        self.backends = list(unique.values())

    @property
    def primary(self) -> SecretsBackend:
        return self.backends[0]

    def get_values(self, secret) -> dict[str, str]:
        """The values from the first backend that answers with some; if none has them, {} when
        every backend answered, else the first failure."""
        failure = None
        for backend in self.backends:
            try:
                values = backend.get_values(secret)
            except BackendUnavailable as exc:
                logger.warning("reading secret %s: %s", secret.pk, exc)
                failure = failure or exc
                continue
            if values is not None:
                return values
        if failure is not None:
            raise failure
        return {}

    def set_values(self, secret, values: dict[str, str]) -> None:
        with atomic_write():
            for backend in self.backends:
                write(backend, secret, values)

    def delete_values(self, secret) -> None:
        with atomic_write():
            for backend in self.backends:
                write(backend, secret, None)


def write(backend: SecretsBackend, secret, values: dict[str, str] | None) -> None:
    """Set (or with None, delete) the values in one backend, inside an atomic_write(); an
    external backend gets its previous values back if the enclosing write fails."""
    previous = None if backend.transactional else backend.get_values(secret)
    if values is None:
        backend.delete_values(secret)
    else:
        backend.set_values(secret, values)
    if not backend.transactional:
        saved = copy.copy(secret)  # keeps its pk, which Model.delete() clears on the original
        on_failure(f"the write of secret {secret.pk} to {backend!r}", lambda: restore(backend, saved, previous))


def restore(backend: SecretsBackend, secret, previous: dict[str, str] | None) -> None:
    if previous is None:
        backend.delete_values(secret)
    else:
        backend.set_values(secret, previous)
