import json

from secrets_app import crypto
from secrets_app.backends.base import SecretsBackend
from secrets_app.models import SecretValue


def _associated_data(secret) -> bytes:
    return f"mlmeta-secret:{secret.pk}".encode()


class SqlBackend(SecretsBackend):
    """Values in MLMeta's own database, encrypted with AES-GCM (secrets_app.crypto)."""

    def get_values(self, secret) -> dict[str, str]:
        row = SecretValue.objects.filter(secret=secret).first()
        if row is None:
            return {}
        return json.loads(crypto.decrypt(row.ciphertext, _associated_data(secret)))

    def set_values(self, secret, values: dict[str, str]) -> None:
        ciphertext = crypto.encrypt(json.dumps(values).encode(), _associated_data(secret))
        SecretValue.objects.update_or_create(
            secret=secret, defaults={"ciphertext": ciphertext, "key_id": crypto.key_id_of(ciphertext)}
        )

    def delete_values(self, secret) -> None:
        SecretValue.objects.filter(secret=secret).delete()

    def reencrypt(self, secret) -> bool:
        """Move the values of `secret` under the active key; True if they were rewritten."""
        row = SecretValue.objects.filter(secret=secret).first()
        if row is None or row.key_id == crypto.active_key_id():
            return False
        row.ciphertext = crypto.reencrypt(row.ciphertext, _associated_data(secret))
        row.key_id = crypto.key_id_of(row.ciphertext)
        row.save(update_fields=["ciphertext", "key_id", "updated"])
        return True
