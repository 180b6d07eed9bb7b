"""`manage.py rotate_secret_keys`: every stored value and backend credential moves under the
active key, in batches that survive an interruption; unknown key ids are named."""

import base64
import io
import json

import pytest
from django.core.management import CommandError, call_command

from secrets_app import crypto, rotation
from secrets_app.backends import get_backend
from secrets_app.models import Secret, SecretBackendConfig, SecretValue
from tests.secrets_app.helpers import database_dump, marker

OLD = ("old", bytes(range(32)))
NEW = ("new", bytes(range(32, 64)))


@pytest.fixture
def old_key(settings):
    settings.SECRETS_ENCRYPTION_KEYS = [OLD]
    return settings


def make_secrets(tenant, count: int) -> dict:
    values = {}
    for number in range(count):
        secret = Secret.objects.create(tenant=tenant, name=f"secret-{number}")
        values[secret.pk] = {"password": marker(f"rotate-{number}")}
        secret.write_values(values[secret.pk])
    return values


def make_config(tenant, token: str) -> SecretBackendConfig:
    # Retired: never written to, so the unreachable address does not matter.
    config = SecretBackendConfig(tenant=tenant, role="retired", backend="openbao", address="http://127.0.0.1:1")
    config.set_credential("token", token)
    config.save()
    return config


def rotate(**options) -> str:
    out = io.StringIO()
    call_command("rotate_secret_keys", stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def assert_readable(values: dict) -> None:
    for secret in Secret.objects.all():
        assert get_backend("sql").get_values(secret) == values[secret.pk]


def test_rotate_reencrypts_old_rows_which_still_decrypt(tenant, old_key):
    values = make_secrets(tenant, 5)
    token = marker("token")
    config = make_config(tenant, token)
    old_key.SECRETS_ENCRYPTION_KEYS = [NEW, OLD]
    assert "Re-encrypted 6 rows under key id 'new'." in rotate(batch_size=2)
    assert set(SecretValue.objects.values_list("key_id", flat=True)) == {"new"}
    old_key.SECRETS_ENCRYPTION_KEYS = [NEW]  # the old key is gone: everything still decrypts
    assert_readable(values)
    config.refresh_from_db()
    assert config.credential("token") == token and config.token_ciphertext.startswith("v1:new:")
    assert "Re-encrypted 0 rows" in rotate()


def test_rotate_resumes_after_an_interruption(tenant, old_key, monkeypatch):
    values = make_secrets(tenant, 5)
    old_key.SECRETS_ENCRYPTION_KEYS = [NEW, OLD]
    calls = []
    original = rotation.reencrypt_row

    def interrupted(row):
        calls.append(row.pk)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(row)

    monkeypatch.setattr(rotation, "reencrypt_row", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rotate(batch_size=2)
    # The first batch was committed, the second rolled back whole.
    assert sorted(SecretValue.objects.values_list("key_id", flat=True)) == ["new", "new", "old", "old", "old"]
    monkeypatch.setattr(rotation, "reencrypt_row", original)
    assert "Re-encrypted 3 rows" in rotate(batch_size=2)
    old_key.SECRETS_ENCRYPTION_KEYS = [NEW]
    assert_readable(values)


def test_rotate_names_a_key_id_that_is_not_configured(tenant, old_key):
    make_secrets(tenant, 2)
    old_key.SECRETS_ENCRYPTION_KEYS = [NEW]
    for options in ({}, {"dry_run": True}):
        with pytest.raises(CommandError) as raised:
            rotate(**options)
        message = str(raised.value)
        assert "key id 'old'" in message and "\n" not in message
    assert set(SecretValue.objects.values_list("key_id", flat=True)) == {"old"}


def test_rotate_names_a_row_that_does_not_decrypt(tenant, old_key):
    make_secrets(tenant, 1)
    old_key.SECRETS_ENCRYPTION_KEYS = [NEW, ("old", bytes(32))]  # right id, wrong key
    with pytest.raises(CommandError) as raised:
        rotate()
    assert "key id 'old' does not decrypt it" in str(raised.value)


def test_dry_run_counts_rows_per_key_id_and_changes_nothing(tenant, old_key):
    make_secrets(tenant, 3)
    make_config(tenant, "t")
    old_key.SECRETS_ENCRYPTION_KEYS = [NEW, OLD]
    Secret.objects.create(tenant=tenant, name="fresh").write_values({"a": "b"})
    before = database_dump()
    output = rotate(dry_run=True)
    assert "secret values: new (active): 1, old: 3" in output
    assert "backend credentials: old: 1" in output
    assert "Rows to re-encrypt: 4" in output
    assert database_dump() == before


def test_database_dump_holds_no_plaintext(tenant, old_key):
    values = make_secrets(tenant, 3)
    token = marker("token")
    make_config(tenant, token)
    old_key.SECRETS_ENCRYPTION_KEYS = [NEW, OLD]
    rotate()
    dump = database_dump()
    for plain in [token, *(value["password"] for value in values.values())]:
        assert plain not in dump
        assert base64.b64encode(plain.encode()).decode() not in dump
        assert json.dumps(plain) not in dump
    assert crypto.active_key_id() == "new"


def test_reading_under_a_dropped_key_names_the_key_id(api, old_key):
    created = api.post("/api/v1/secrets", {"name": "creds", "values": {"a": "b"}}, format="json").json()
    old_key.SECRETS_ENCRYPTION_KEYS = [NEW]
    response = api.get(f"/api/v1/secrets/{created['id']}")
    assert response.status_code == 500
    assert response.json()["detail"] == [
        "RuntimeError",
        "The stored values cannot be decrypted: No configured key 'old' for this ciphertext.",
    ]
