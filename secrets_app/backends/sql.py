import json

from secrets_app import crypto
from secrets_app.backends.base import SecretsBackend
from secrets_app.models import SecretValue


def associated_data(secret_id) -> bytes:
    """Binds a ciphertext to its secret, so one copied onto another row does not decrypt."""
    return f"mlmeta-secret:{secret_id}".encode()


class SqlBackend(SecretsBackend):
    """Values in MLMeta's own database, encrypted with AES-GCM (secrets_app.crypto)."""

    transactional = True

    def get_values(self, secret) -> dict[str, str] | None:
        row = SecretValue.objects.filter(secret=secret).first()
        if row is None:
            return None
        return json.loads(crypto.decrypt(row.ciphertext, associated_data(secret.pk)))

    def set_values(self, secret, values: dict[str, str]) -> None:
        ciphertext = crypto.encrypt(json.dumps(values).encode(), associated_data(secret.pk))
        SecretValue.objects.update_or_create(
            secret=secret, defaults={"ciphertext": ciphertext, "key_id": crypto.key_id_of(ciphertext)}
        )

    def delete_values(self, secret) -> None:
        SecretValue.objects.filter(secret=secret).delete()

    def reencrypt(self, secret) -> bool:
        """Move the values of `secret` under the active key; True if they were rewritten."""
        row = SecretValue.objects.filter(secret=secret).first()
        if row is None or not reencrypt_row(row):
            return False
        row.save(update_fields=["ciphertext", "key_id", "updated"])
        return True


def reencrypt_row(row: SecretValue) -> bool:
    """Re-encrypt `row` under the active key in memory; True if it changed (then save it)."""
    if row.key_id == crypto.active_key_id():
        return False
    row.ciphertext = crypto.reencrypt(row.ciphertext, associated_data(row.secret_id))
    row.key_id = crypto.key_id_of(row.ciphertext)
    return True
