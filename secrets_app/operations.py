"""`PUT /api/v1/secrets_operations/backup|restore` (ZenML's `zenml secret backup|restore`): copy
every value of one tenant from its primary backend to its backup backend, or back.

Each secret is copied under its row lock, so a concurrent update waits for the copy (and then
writes to both backends as usual). With `ignore_errors` a secret that cannot be copied is
reported and skipped; without it the first failure stops the run and is raised. With
`delete_secrets` the copied values leave the source backend (ZenML's "move"): reads of the
secret then fall back to the backend that holds them.
"""

import logging
from dataclasses import dataclass, field

from secrets_app.atomic import atomic_write
from secrets_app.backends import BackendUnavailable, SecretsBackend, build
from secrets_app.choices import BackendRole
from secrets_app.crypto import DecryptionError
from secrets_app.models import Secret, SecretBackendConfig
from secrets_app.stores import write

logger = logging.getLogger(__name__)


class NoBackupBackend(Exception):
    """The tenant has no backup backend to back up to or restore from."""


class MissingValues(Exception):
    """The source backend holds no values for a secret."""


@dataclass
class Report:
    """What one run did: ids of the secrets copied, and of those that failed with why."""

    copied: list = field(default_factory=list)
    failed: list = field(default_factory=list)

    def as_json(self) -> dict:
        return {"copied": len(self.copied), "failed": self.failed}


def backends(tenant) -> tuple[SecretsBackend, SecretsBackend]:
    """The tenant's (primary, backup) backends; NoBackupBackend when there is no backup."""
    backup = SecretBackendConfig.objects.filter(tenant=tenant, role=BackendRole.BACKUP).first()
    if backup is None:
        raise NoBackupBackend(
            f"Tenant '{tenant.slug}' has no backup secrets backend: add a secret backend configuration "
            "with role 'backup' (admin: Secret backend configs) first."
        )
    primary = SecretBackendConfig.objects.filter(tenant=tenant, role=BackendRole.PRIMARY).first()
    if primary is not None and primary.backend != tenant.secrets_backend:
        primary = None
    source = build(tenant.secrets_backend, primary, BackendRole.PRIMARY)
    target = build(backup.backend, backup, BackendRole.BACKUP)
    if source.identity() == target.identity():
        raise NoBackupBackend(f"The backup secrets backend of tenant '{tenant.slug}' is its primary backend.")
    return source, target


def backup(tenant, ignore_errors: bool = True, delete_secrets: bool = False) -> Report:
    primary, backup_backend = backends(tenant)
    return copy_every_secret(tenant, primary, backup_backend, ignore_errors, delete_secrets)


def restore(tenant, ignore_errors: bool = False, delete_secrets: bool = False) -> Report:
    primary, backup_backend = backends(tenant)
    return copy_every_secret(tenant, backup_backend, primary, ignore_errors, delete_secrets)


def copy_every_secret(tenant, source, target, ignore_errors: bool, delete_secrets: bool) -> Report:
    report = Report()
    ids = Secret.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True)
    for secret_id in list(ids):
        try:
            if copy_secret(secret_id, source, target, delete_secrets):
                report.copied.append(secret_id)
        except (BackendUnavailable, DecryptionError, MissingValues) as exc:
            logger.warning("secret %s not copied from %r to %r: %s", secret_id, source, target, exc)
            if not ignore_errors:
                raise
            report.failed.append({"id": str(secret_id), "error": str(exc)})
    logger.info(
        "tenant %s: %d secret(s) copied from %r to %r, %d failed",
        tenant.slug,
        len(report.copied),
        source,
        target,
        len(report.failed),
    )
    return report


def copy_secret(secret_id, source: SecretsBackend, target: SecretsBackend, delete_from_source: bool) -> bool:
    """Copy one secret's values (all or nothing, under its row lock); False if it is gone."""
    with atomic_write():
        secret = Secret.objects.select_for_update().filter(pk=secret_id).first()
        if secret is None:  # deleted meanwhile, from every backend
            return False
        values = source.get_values(secret)
        if values is None:
            raise MissingValues(f"Secret {secret_id} ({secret.name}) has no values in {_name(source)}.")
        write(target, secret, values)
        if delete_from_source:
            write(source, secret, None)
        return True


def _name(backend: SecretsBackend) -> str:
    return f"secrets backend '{backend.name}' ({backend.role})"
