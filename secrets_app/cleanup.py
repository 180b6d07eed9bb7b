"""A deleted tenant takes its secret values with it, from every backend.

The database cascade removes the `sql` values; values in external stores (OpenBao) are deleted
by `delete_tenant_values()`, which a pre_delete receiver runs for every deletion of a tenant
(the control-plane API, the admin, the shell). It is all or nothing: when a backend cannot be
reached, the values already deleted are put back and the deletion is refused, rather than
leaving values behind in a store nobody would know to clean.
"""

from rest_framework import status
from rest_framework.exceptions import APIException

from secrets_app.atomic import atomic_write
from secrets_app.backends import BackendUnavailable, SecretsBackend
from secrets_app.choices import BackendRole
from secrets_app.models import Secret
from secrets_app.stores import tenant_store, write

EVERY_ROLE = (BackendRole.PRIMARY, BackendRole.BACKUP, BackendRole.TARGET, BackendRole.RETIRED)


class TenantValuesNotDeleted(APIException):
    """A tenant's values could not be deleted from one of its backends; the tenant stays."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


def external_backends(tenant) -> list[SecretsBackend]:
    """The tenant's backends, in every role, whose values the database cascade does not reach."""
    return [backend for backend in tenant_store(tenant, roles=EVERY_ROLE).backends if not backend.transactional]


def delete_tenant_values(tenant) -> int:
    """Delete the values of every secret of `tenant` from its external backends, all or none;
    the number of secrets. Raises BackendUnavailable naming the backend that failed."""
    backends = external_backends(tenant)
    if not backends:
        return 0
    secrets = list(Secret.objects.filter(tenant=tenant).order_by("pk"))
    with atomic_write():
        for secret in secrets:
            for backend in backends:
                write(backend, secret, None)
    return len(secrets)


def on_tenant_pre_delete(sender, instance, **kwargs) -> None:
    try:
        delete_tenant_values(instance)
    except BackendUnavailable as exc:
        raise TenantValuesNotDeleted(
            f"Tenant '{instance.slug}' was not deleted: its secret values could not be deleted. {exc} "
            "Bring the backend back, or delete its secret backend configuration (leaving the values there), "
            "then delete the tenant again."
        ) from None
