"""Secrets: recorded steps 15/16, values only where ZenML shows them, encryption at rest,
value updates, private secrets and tenant isolation."""

import base64
import logging

import pytest
from django.db import connection

from secrets_app import crypto
from secrets_app.backends import get_backend
from secrets_app.models import Secret, SecretValue
from tenants import access
from tenants.models import User
from tenants.services import create_tenant
from tests.api_helpers import TenantClient, bearer_client
from tests.traffic import Replayer, envelope_keys, recorded

RECORDED_ADMIN = "339d3cc0-08b6-48be-9948-0adc101b3cfc"
PLAINTEXT = {"username": "svc-user-7f3a", "api_token": "tok-9d8e7c6b5a4f3e2d"}


@pytest.fixture
def admin(tenant):
    user = User.objects.create_user("admin", password="x" * 12)
    access.add_member(tenant, user)
    return user


@pytest.fixture
def bob(tenant):
    user = User.objects.create_user("bob", password="x" * 12)
    access.add_member(tenant, user)
    return bearer_client(user, tenant)


def create(api, name="creds", values=None, private=False):
    body = {"name": name, "private": private, "values": PLAINTEXT if values is None else values}
    response = api.post("/api/v1/secrets", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def database_dump() -> str:
    rows = []
    with connection.cursor() as cursor:
        for model in (Secret, SecretValue):
            cursor.execute(f"SELECT * FROM {model._meta.db_table}")  # noqa: S608 - our own table names
            rows.extend(cursor.fetchall())
    return repr(rows)


def test_replay_recorded_secret_steps(api, admin, caplog):
    caplog.set_level(logging.DEBUG)
    replay = Replayer(api, {RECORDED_ADMIN: admin.pk}, secrets=PLAINTEXT)
    [create_step] = recorded("15-secret-create", "POST", "/secrets")
    created = replay.send(create_step).json()
    assert envelope_keys(created) == envelope_keys(create_step["resp_body"])
    assert created["body"]["values"] == PLAINTEXT and created["metadata"] == {}

    [lookup] = recorded("16-secret-get", "GET", "/secrets", exact=True)
    assert lookup["query"]["logical_operator"] == ["or"]
    page = replay.send(lookup).json()
    assert [item["id"] for item in page["items"]] == [created["id"]]
    assert page["items"][0]["body"]["values"] == {} and page["items"][0]["metadata"] == {}
    assert envelope_keys(page["items"][0]) == envelope_keys(lookup["resp_body"]["items"][0])

    [get] = recorded("16-secret-get", "GET", "/secrets/")
    fetched = replay.send(get).json()
    assert envelope_keys(fetched) == envelope_keys(get["resp_body"])
    assert fetched["body"]["values"] == PLAINTEXT
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "read by admin" in logged
    assert all(value not in logged for value in PLAINTEXT.values())


def test_values_are_encrypted_in_the_database(api):
    secret = create(api)
    dump = database_dump()
    for value in PLAINTEXT.values():
        assert value not in dump
        assert base64.b64encode(value.encode()).decode() not in dump
    row = SecretValue.objects.get()
    assert row.key_id == crypto.active_key_id() and row.ciphertext.startswith(f"v1:{row.key_id}:")
    assert Secret.objects.get().keys == ["api_token", "username"]
    assert api.get(f"/api/v1/secrets/{secret['id']}").json()["body"]["values"] == PLAINTEXT


def test_ciphertext_is_bound_to_its_secret(api):
    first, second = create(api, "first"), create(api, "second", {"other": "value"})
    rows = {str(row.secret_id): row for row in SecretValue.objects.all()}
    SecretValue.objects.filter(pk=rows[second["id"]].pk).update(ciphertext=rows[first["id"]].ciphertext)
    with pytest.raises(crypto.DecryptionError):
        get_backend("sql").get_values(Secret.objects.get(pk=second["id"]))


def test_old_keys_still_decrypt_and_reencrypt_moves_values(api, settings):
    secret = create(api)
    old_id = crypto.active_key_id()
    new_key = ("k2", bytes(range(32)))
    settings.SECRETS_ENCRYPTION_KEYS = [new_key, *settings.SECRETS_ENCRYPTION_KEYS]
    assert api.get(f"/api/v1/secrets/{secret['id']}").json()["body"]["values"] == PLAINTEXT
    assert SecretValue.objects.get().key_id == old_id
    assert get_backend("sql").reencrypt(Secret.objects.get())
    assert SecretValue.objects.get().key_id == "k2"
    settings.SECRETS_ENCRYPTION_KEYS = [new_key]
    assert api.get(f"/api/v1/secrets/{secret['id']}").json()["body"]["values"] == PLAINTEXT


def test_lists_never_show_values(api):
    create(api)
    for query in ("", "?hydrate=True", "?hydrate=False&name=creds"):
        items = api.get(f"/api/v1/secrets{query}").json()["items"]
        assert [item["body"]["values"] for item in items] == [{}]


def test_update_merges_with_patch_values_and_replaces_without(api):
    secret = create(api)
    path = f"/api/v1/secrets/{secret['id']}"
    updated = api.put(f"{path}?patch_values=true", {"values": {"region": "eu", "username": None}}, format="json")
    assert updated.status_code == 200 and updated.json()["body"]["values"] == {}
    assert api.get(path).json()["body"]["values"] == {"api_token": PLAINTEXT["api_token"], "region": "eu"}
    api.put(path, {"values": {"only": "this", "region": None}}, format="json")
    assert api.get(path).json()["body"]["values"] == {"only": "this"}
    renamed = api.put(path, {"name": "renamed"}, format="json").json()
    assert renamed["name"] == "renamed" and api.get(path).json()["body"]["values"] == {"only": "this"}
    assert Secret.objects.get().keys == ["only"]


def test_names_conflict_per_scope(api, bob):
    create(api)
    conflict = api.post("/api/v1/secrets", {"name": "creds", "values": {}}, format="json")
    assert conflict.status_code == 409 and conflict.json()["detail"][0] == "EntityExistsError"
    assert create(api, "creds", private=True)["body"]["private"] is True
    assert create(bob, "creds", private=True)["body"]["private"] is True


def test_private_secrets_are_visible_to_their_owner_only(api, bob):
    private = create(api, "mine", private=True)
    public = create(api, "shared")
    assert [item["name"] for item in bob.get("/api/v1/secrets").json()["items"]] == ["shared"]
    path = f"/api/v1/secrets/{private['id']}"
    assert bob.get(path).status_code == 404
    assert bob.put(path, {"values": {"x": "y"}}, format="json").status_code == 404
    assert bob.delete(path).status_code == 404
    assert bob.get(f"/api/v1/secrets/{public['id']}").json()["body"]["values"] == PLAINTEXT
    assert api.get(path).json()["body"]["values"] == PLAINTEXT


def test_delete_removes_the_values(api):
    secret = create(api)
    assert api.delete(f"/api/v1/secrets/{secret['id']}").content == b"null"
    assert not SecretValue.objects.exists() and not Secret.objects.exists()
    assert api.get(f"/api/v1/secrets/{secret['id']}").status_code == 404


def test_secrets_are_isolated_between_tenants(api, db):
    secret = create(api)
    other = create_tenant("other")
    charlie = User.objects.create_user("charlie", password="x" * 12)
    access.add_member(other, charlie)
    theirs = TenantClient(charlie, other)
    path = f"/api/v1/secrets/{secret['id']}"
    assert theirs.get(path).status_code == 404
    assert theirs.put(path, {"values": {"a": "b"}}, format="json").status_code == 404
    assert theirs.delete(path).status_code == 404
    assert theirs.get("/api/v1/secrets").json()["total"] == 0
    assert create(theirs, "creds", {"k": "v"})["name"] == "creds"
    assert api.get(path).json()["body"]["values"] == PLAINTEXT
