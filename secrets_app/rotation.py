"""Re-encryption of everything stored under an old key (`manage.py rotate_secret_keys`): the
values of the `sql` backend and the credentials of backend configurations.

Each batch is a transaction of its own and picks only rows not yet under the active key, so an
interrupted run loses at most its current batch and the next run carries on from there.
"""

from collections import Counter

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from secrets_app import crypto
from secrets_app.backends.sql import reencrypt_row
from secrets_app.models import SecretBackendConfig, SecretValue
from secrets_app.models.backend_configs import CREDENTIALS


class RotationError(Exception):
    """A stored row cannot be re-encrypted; the message names its key id, never its content."""


def key_counts() -> dict[str, Counter]:
    """How many stored rows each key id encrypts, by kind of row."""
    values = Counter(dict(SecretValue.objects.values_list("key_id").annotate(rows=Count("pk")).order_by()))
    credentials = Counter(
        crypto.key_id_of(ciphertext)
        for row in SecretBackendConfig.objects.values_list(*(f"{name}_ciphertext" for name in CREDENTIALS))
        for ciphertext in row
        if ciphertext
    )
    return {"secret values": values, "backend credentials": credentials}


def unconfigured_key_ids(counts: dict[str, Counter]) -> list[str]:
    configured = {key_id for key_id, _ in settings.SECRETS_ENCRYPTION_KEYS}
    return sorted({key_id for counter in counts.values() for key_id in counter} - configured)


def pending_values():
    return SecretValue.objects.exclude(key_id=crypto.active_key_id())


def pending_configs():
    active = f"{crypto.VERSION}:{crypto.active_key_id()}:"
    query = Q()
    for name in CREDENTIALS:
        field = f"{name}_ciphertext"
        query |= Q(**{f"{field}__gt": ""}) & ~Q(**{f"{field}__startswith": active})
    return SecretBackendConfig.objects.filter(query)


def pending_count() -> int:
    return pending_values().count() + pending_configs().count()


def rotate_batch(batch_size: int) -> int:
    """Re-encrypt up to `batch_size` rows in one transaction; the number done (0: finished)."""
    with transaction.atomic():
        rows = list(pending_values().select_for_update().order_by("pk")[:batch_size])
        now = timezone.now()
        for row in rows:
            _reencrypt(row, lambda row=row: reencrypt_row(row), f"the values of secret {row.secret_id}")
            row.updated = now
        SecretValue.objects.bulk_update(rows, ["ciphertext", "key_id", "updated"])
        if rows:
            return len(rows)
        configs = list(pending_configs().select_for_update().order_by("pk")[:batch_size])
        for config in configs:
            _reencrypt(config, config.reencrypt_credentials, f"the credentials of backend configuration {config.pk}")
            config.save(update_fields=[*(f"{name}_ciphertext" for name in CREDENTIALS), "updated"])
        return len(configs)


def _reencrypt(row, action, what: str) -> None:
    try:
        action()
    except crypto.DecryptionError:
        raise RotationError(f"Cannot re-encrypt {what}: key id {_stored_key_id(row)!r} does not decrypt it.") from None


def _stored_key_id(row) -> str:
    if isinstance(row, SecretValue):
        return row.key_id
    return ", ".join(crypto.key_id_of(getattr(row, f"{name}_ciphertext")) for name in CREDENTIALS)
