from django.db.models import Q
from rest_framework.response import Response

from core.api.exceptions import IllegalOperationError, ZenError
from core.api.filters import _to_bool
from core.api.validation import invalid
from core.api.views import ZenViewSet, hydrate_param
from core.signals import access_denied
from secrets_app.api.envelopes import SecretEnvelope
from secrets_app.api.filtersets import SecretFilterSet
from secrets_app.atomic import atomic_write
from secrets_app.backends import BackendUnavailable
from secrets_app.crypto import DecryptionError
from secrets_app.limits import SecretTooLarge
from secrets_app.models import Secret, ServiceConnector
from tenants import audit


class SecretViewSet(ZenViewSet):
    """Values appear only in the create response and a single GET; private secrets are their owner's.

    A backend that cannot be reached makes the request a 503 naming it; writes are all or
    nothing across the database and the backends (secrets_app.atomic).
    """

    model = Secret
    envelope_class = SecretEnvelope
    filterset_class = SecretFilterSet
    create_schema = "SecretRequest"
    update_schema = "SecretUpdate"
    label = "secret"

    def get_queryset(self):
        connectors = ServiceConnector.objects.filter(secret__isnull=False).values("secret_id")  # internal secrets
        return super().get_queryset().filter(Q(private=False) | Q(user=self.request.user)).exclude(pk__in=connectors)

    def handle_exception(self, exc):
        if isinstance(exc, BackendUnavailable):
            exc = ZenError(str(exc), "RuntimeError", status_code=503)
        elif isinstance(exc, DecryptionError):  # e.g. a key id dropped from MLMETA_SECRETS_KEYS too early
            exc = ZenError(f"The stored values cannot be decrypted: {exc}", "RuntimeError", status_code=500)
        elif isinstance(exc, SecretTooLarge):
            exc = invalid(exc.field, exc.message)
        return super().handle_exception(exc)

    def save_or_conflict(self, save, data):
        with atomic_write():
            return super().save_or_conflict(save, data)

    def validated(self, data, schema_name):
        """As for every resource, except that a 422 about `values` never quotes a value: they are
        checked here without echoing them, and the schema sees them blanked."""
        if not isinstance(data, dict) or data.get("values") is None:
            return super().validated(data, schema_name)
        values = data["values"]
        if not isinstance(values, dict):
            raise invalid("values", "Input should be a valid dictionary")
        for key, value in values.items():
            if value is not None and not isinstance(value, str):
                raise invalid(f"values.{key}", "Input should be a valid string")
        super().validated(
            {**data, "values": {key: "" if value is not None else None for key, value in values.items()}}, schema_name
        )
        return data

    def retrieve(self, request, *args, **kwargs):
        secret = self.get_object(self.envelope_class.prefetch(self.get_queryset(), True))
        rendered = self.envelope(hydrate_param(request, True)).render(secret)
        if not self.model.objects.allows(request.user, "read_secret_value", secret):
            return Response(rendered)  # as ZenML's remove_secrets(): the metadata, `values: {}`
        rendered["body"]["values"] = secret.read_values(request.user)
        audit.record("read_secret_value", request=request, obj=secret, detail=f"values of {len(secret.keys)} key(s)")
        return Response(rendered)

    def create(self, request, *args, **kwargs):
        data = self.validated(request.data, self.create_schema)
        values = {key: value for key, value in (data.get("values") or {}).items() if value is not None}
        secret = self.save_or_conflict(lambda: self.created(self.perform_create(data, values)), data)
        self.changed("create", secret)
        rendered = self.render(secret)
        rendered["body"]["values"] = values
        audit.record("read_secret_value", request=request, obj=secret, detail="returned by create")
        return Response(rendered)

    def perform_create(self, data, values):
        secret = Secret.objects.create(
            tenant=self.request.tenant,
            user=self.request.user,
            name=data["name"],
            private=bool(data.get("private")),
            backend=self.request.tenant.secrets_backend,
        )
        secret.write_values(values)
        return secret

    def update(self, request, *args, **kwargs):
        """Only the owner makes a secret private or public (others could hide it from everyone);
        checked before the update's transaction, so the refusal stays audited."""
        private = request.data.get("private") if isinstance(request.data, dict) else None
        if private is not None:
            secret = self.get_object()
            if private != secret.private and secret.user_id != request.user.pk:
                access_denied.send(sender=Secret, request=request, action="update", resource_id=secret.pk)
                raise IllegalOperationError("Only the owner of a secret can make it private or public.")
        return super().update(request, *args, **kwargs)

    def perform_update(self, secret, data):
        """`?patch_values=true` merges values (what the zenml client sends); without it they are replaced."""
        for field in ("name", "private"):
            if data.get(field) is not None:
                setattr(secret, field, data[field])
        secret.save(update_fields=["name", "private", "updated"])  # `keys` is update_values()'s, under its lock
        if data.get("values") is not None:
            secret.update_values(data["values"], replace=not self.patch_values())
        return secret

    def patch_values(self) -> bool:
        raw = self.request.query_params.get("patch_values")
        if raw in (None, ""):
            return False
        try:
            return _to_bool(raw)
        except ValueError:
            raise invalid("patch_values", "Input should be a valid boolean", raw, "query") from None

    def perform_destroy(self, secret):
        secret.delete_with_values()
