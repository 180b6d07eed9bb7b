"""`PUT /api/v1/secrets_operations/backup|restore`: the tenant's values from its primary backend
to its backup backend, or back (secrets_app.operations). Needs `backup_restore` on secrets in
the tenant (tenant admins hold it); the answer counts the copied secrets and lists the failed."""

from rest_framework.decorators import api_view
from rest_framework.response import Response

from core.api.exceptions import EntityNotFound, IllegalOperationError, ZenError
from core.api.filters import _to_bool
from core.api.validation import invalid
from core.signals import access_denied
from secrets_app import operations
from secrets_app.backends import BackendUnavailable
from secrets_app.crypto import DecryptionError
from secrets_app.models import Secret
from tenants import audit, rbac


@api_view(["PUT"])
def backup_secrets(request):
    return run(request, "backup", operations.backup, ignore_errors_default=True)


@api_view(["PUT"])
def restore_secrets(request):
    return run(request, "restore", operations.restore, ignore_errors_default=False)


def run(request, name: str, operation, ignore_errors_default: bool) -> Response:
    if not rbac.can(request.user, "backup_restore", "secret", tenant=request.tenant):
        access_denied.send(sender=Secret, request=request, action="backup_restore")
        raise IllegalOperationError(f"Insufficient permissions to {name} secrets: it needs `backup_restore`.")
    ignore_errors = flag(request, "ignore_errors", ignore_errors_default)
    delete_secrets = flag(request, "delete_secrets", False)
    try:
        report = operation(request.tenant, ignore_errors=ignore_errors, delete_secrets=delete_secrets)
    except operations.NoBackupBackend as exc:
        raise ZenError(f"Unable to {name} secrets: {exc}", "BackupSecretsStoreNotConfiguredError", 400) from None
    except operations.MissingValues as exc:
        raise EntityNotFound(f"Unable to {name} secrets: {exc}") from None
    except BackendUnavailable as exc:
        raise ZenError(f"Unable to {name} secrets: {exc}", "RuntimeError", 503) from None
    except DecryptionError as exc:
        message = f"Unable to {name} secrets: the stored values cannot be decrypted: {exc}"
        raise ZenError(message, "RuntimeError", 500) from None
    result = report.as_json()
    audit.record(
        "update",
        request=request,
        resource_type="secret",
        tenant=request.tenant,
        detail=f"secrets {name}: {result['copied']} copied, {len(result['failed'])} failed",
    )
    return Response(result)


def flag(request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return _to_bool(raw)
    except ValueError:
        raise invalid(name, "Input should be a valid boolean", raw, "query") from None
