"""Moving a tenant's secret values to another backend (`manage.py migrate_secrets`).

The steps keep every secret readable and every write kept, whenever the run stops:
1. `prepare`: a `target` configuration row exists; from then on every write also goes to the
   target (secrets_app.stores), and reads fall back to it.
2. `copy_all`: each secret's values are copied to the target and read back; a secret the
   target already holds identically is skipped, so a rerun carries on.
3. `switch`: in one transaction the target becomes the primary and the old primary `retired`;
   writes stop going to it.
4. `retire`: the values are deleted from the retired backend, after making sure the new primary
   holds each secret; then the retired row goes. A rerun finishes an interrupted deletion.
"""

import logging
from collections.abc import Callable

from django.db import transaction

from secrets_app.backends import SecretsBackend, backend_class, build
from secrets_app.choices import BackendRole
from secrets_app.models import Secret, SecretBackendConfig
from secrets_app.stores import TenantStore, tenant_store
from tenants.models import Tenant

logger = logging.getLogger(__name__)


class RelocationError(Exception):
    """The migration cannot go on; the message says why and what to do."""


def config(tenant, role: str) -> SecretBackendConfig | None:
    return SecretBackendConfig.objects.filter(tenant=tenant, role=role).first()


def prepare(tenant: Tenant, target_name: str) -> SecretBackendConfig:
    """The target row for `target_name`, created when that backend needs no configuration."""
    target = config(tenant, BackendRole.TARGET)
    if target is None:
        blank = SecretBackendConfig(tenant=tenant, role=BackendRole.TARGET, backend=target_name)
        if backend_class(target_name).config_errors(blank):
            raise RelocationError(
                f"Configure the target first: a secret backend configuration of tenant '{tenant.slug}' with role "
                f"'target' and backend '{target_name}' (admin: Secrets, Secret backend configs)."
            )
        blank.save()
        return blank
    if target.backend != target_name:
        raise RelocationError(f"Tenant '{tenant.slug}' is migrating to '{target.backend}', not '{target_name}'.")
    errors = backend_class(target_name).config_errors(target)
    if errors:
        raise RelocationError(f"The target configuration is incomplete: {'; '.join(errors.values())}")
    return target


def secret_ids(tenant: Tenant) -> list:
    """Ids, not rows: each secret is re-read under its lock, in a transaction of its own."""
    return list(Secret.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True))


def copy_all(tenant: Tenant, target_config: SecretBackendConfig, progress: Callable[[int], object]) -> int:
    """Copy every secret of `tenant` to the target; the number of secrets written there."""
    source = tenant_store(tenant, roles=(BackendRole.PRIMARY, BackendRole.BACKUP))
    target = build(target_config.backend, target_config, BackendRole.TARGET)
    copied = 0
    for secret_id in secret_ids(tenant):
        copied += copy_secret(secret_id, source, target)
        progress(1)
    return copied


def copy_secret(secret_id, source: TenantStore, target: SecretsBackend) -> bool:
    """Copy one secret under its row lock, so that a concurrent update waits for the copy (and
    then writes to both); True if the target needed the write."""
    with transaction.atomic():
        secret = Secret.objects.select_for_update().filter(pk=secret_id).first()
        if secret is None:  # deleted meanwhile, from every backend
            return False
        values = source.get_values(secret)
        if target.get_values(secret) == values:
            return False
        target.set_values(secret, values)
        if target.get_values(secret) != values:
            raise RelocationError(f"Secret {secret_id} reads back differently from {target!r}; nothing was switched.")
        return True


def switch(tenant: Tenant, target_config: SecretBackendConfig) -> None:
    """Make the target the primary and the old primary `retired`, all at once."""
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        old = config(tenant, BackendRole.PRIMARY)
        if old is None:
            SecretBackendConfig.objects.create(tenant=tenant, role=BackendRole.RETIRED, backend=tenant.secrets_backend)
        else:
            old.role = BackendRole.RETIRED
            old.save(update_fields=["role", "updated"])
        target_config.role = BackendRole.PRIMARY
        target_config.save(update_fields=["role", "updated"])
        tenant.secrets_backend = target_config.backend
        tenant.save(update_fields=["secrets_backend", "updated"])
        Secret.objects.filter(tenant=tenant).update(backend=target_config.backend)
    logger.info("tenant %s now keeps its secret values in %s", tenant.slug, target_config.backend)


def retire(tenant: Tenant, delete_values: bool, progress: Callable[[int], object]) -> int:
    """Delete the values from the retired backend (unless it is still in use, or not
    `delete_values`), then forget it; the number of secrets whose values were deleted."""
    tenant = Tenant.objects.get(pk=tenant.pk)  # as switched
    retired_config = config(tenant, BackendRole.RETIRED)
    if retired_config is None:
        return 0
    retired = build(retired_config.backend, retired_config, BackendRole.RETIRED)
    current = tenant_store(tenant, roles=(BackendRole.PRIMARY, BackendRole.BACKUP))
    deleted = 0
    if delete_values and retired.identity() not in {backend.identity() for backend in current.backends}:
        for secret_id in secret_ids(tenant):
            deleted += retire_secret(secret_id, retired, current)
            progress(1)
    retired_config.delete()
    return deleted


def retire_secret(secret_id, retired: SecretsBackend, current: TenantStore) -> bool:
    with transaction.atomic():
        secret = Secret.objects.select_for_update().filter(pk=secret_id).first()
        if secret is None:
            return False
        values = retired.get_values(secret)
        if values is None:
            return False
        if current.primary.get_values(secret) is None:
            # Written to the old primary alone by a request that began before the target
            # existed and ended after the copy: move it now rather than lose it.
            current.set_values(secret, values)
        retired.delete_values(secret)
        return True
