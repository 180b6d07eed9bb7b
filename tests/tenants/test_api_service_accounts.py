"""Service accounts and API keys: recorded steps 05-07, keys shown once and stored hashed,
rotation with a retain period, immediate deactivation, and tenant isolation."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.db import connection
from django.utils import timezone

from tenants import access
from tenants.models import APIKey, User
from tenants.services import create_tenant
from tests.api_helpers import TenantClient
from tests.traffic import Replayer, envelope_keys, recorded

RECORDED_ADMIN = "339d3cc0-08b6-48be-9948-0adc101b3cfc"


@pytest.fixture
def admin(tenant):
    user = User.objects.create_user("admin", password="x" * 12)
    access.add_member(tenant, user, "tenant-admin")
    return user


def create_account(api, name="ci-bot"):
    body = {"name": name, "full_name": "", "description": "CI", "active": True, "avatar_url": None}
    response = api.post("/api/v1/service_accounts", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def create_key(api, account, name="default"):
    path = f"/api/v1/service_accounts/{account['id']}/api_keys"
    response = api.post(path, {"name": name, "description": "key"}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def login(client, key, path="/api/v1/login"):
    return client.post(path, {"grant_type": "zenml-api-key", "password": key})


def me(client, token, prefix=""):
    return client.get(f"{prefix}/api/v1/current-user", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_replay_recorded_service_account_and_api_key_login(api, admin, client, tenant):
    replay = Replayer(api, {RECORDED_ADMIN: admin.pk})
    [create] = recorded("05-service-account", "POST", "/service_accounts", exact=True)
    account = replay.send(create).json()
    assert envelope_keys(account) == envelope_keys(create["resp_body"])
    assert account["resources"] is None and account["metadata"] == {"description": "", "external_user_id": None}

    [lookup] = recorded("05-service-account", "GET", "/service_accounts")
    page = replay.send(lookup).json()
    assert [item["id"] for item in page["items"]] == [account["id"]]

    [add_key] = recorded("05-service-account", "POST", "/service_accounts/")
    assert add_key["path"].endswith("/api_keys")
    key = replay.send(add_key).json()
    assert envelope_keys(key) == envelope_keys(add_key["resp_body"])
    assert envelope_keys(key["body"]["service_account"]) == envelope_keys(
        add_key["resp_body"]["body"]["service_account"]
    )
    assert key["metadata"] == add_key["resp_body"]["metadata"]
    assert key["body"]["key"].startswith("ZENKEY_")

    for step in ("06-auth-api-key", "07-auth-api-key-env"):
        [grant] = recorded(step, "POST", "/login")
        replayer = Replayer(client, secrets={"password": key["body"]["key"]})
        token_body = replayer.send(grant).json()
        assert set(token_body) == set(grant["resp_body"])
        claims = jwt.decode(token_body["access_token"], options={"verify_signature": False})
        assert {"api_key_id", "key_gen", "sub"} <= set(claims)
        assert claims["sub"] == account["id"] and claims["api_key_id"] == key["id"]
        [current] = [e for e in recorded(step, "GET", "/current-user") if e["status"] == 200]
        user = me(client, token_body["access_token"]).json()
        assert envelope_keys(user) == envelope_keys(current["resp_body"])
        assert user["body"]["is_service_account"] is True and user["name"] == account["name"]
    assert APIKey.objects.get().last_login is not None


def test_api_key_is_shown_once_and_stored_hashed(api, tenant):
    account = create_account(api)
    created = create_key(api, account)
    plaintext = created["body"]["key"]
    path = f"/api/v1/service_accounts/{account['id']}/api_keys"
    assert api.get(f"{path}/{created['id']}").json()["body"]["key"] is None
    assert api.get(f"{path}/default").json()["id"] == created["id"]
    assert [item["body"]["key"] for item in api.get(f"{path}?hydrate=True").json()["items"]] == [None]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {APIKey._meta.db_table}")  # noqa: S608 - our own table name
        dump = repr(cursor.fetchall())
    raw_secret = json.loads(base64.b64decode(plaintext.removeprefix("ZENKEY_")))["key"]
    assert raw_secret not in dump and plaintext not in dump
    assert len(raw_secret) == 64


def test_rotation_keeps_the_old_key_for_the_retain_period(api, client, tenant):
    account = create_account(api)
    key = create_key(api, account)
    old = key["body"]["key"]
    old_token = login(client, old).json()["access_token"]
    path = f"/api/v1/service_accounts/{account['id']}/api_keys/{key['id']}/rotate"
    rotated = api.put(path, {"retain_period_minutes": 30}, format="json").json()
    new = rotated["body"]["key"]
    assert new != old and rotated["metadata"]["retain_period_minutes"] == 30
    assert rotated["metadata"]["last_rotated"] is not None
    assert me(client, old_token).status_code == 200
    assert login(client, old).status_code == 200
    new_token = login(client, new).json()["access_token"]
    assert jwt.decode(new_token, options={"verify_signature": False})["key_gen"] == "2"

    APIKey.objects.update(retained_until=timezone.now() - timedelta(seconds=1))
    refused = login(client, old)
    assert refused.status_code == 401
    assert refused.json() == {"detail": ["CredentialsNotValid", "Authentication error: error decoding API key"]}
    assert me(client, old_token).status_code == 401
    assert me(client, new_token).status_code == 200

    # Without a retain period the previous key stops at once.
    newest = api.put(path, {}, format="json").json()["body"]["key"]
    assert login(client, new).status_code == 401 and me(client, new_token).status_code == 401
    assert login(client, newest).status_code == 200


def test_deactivation_takes_effect_at_once(api, client, tenant):
    account = create_account(api)
    key = create_key(api, account)
    token = login(client, key["body"]["key"]).json()["access_token"]
    workload = client.get(
        "/api/v1/api_token?token_type=generic&expires_in=600", HTTP_AUTHORIZATION=f"Bearer {token}"
    ).json()
    path = f"/api/v1/service_accounts/{account['id']}/api_keys/{key['id']}"
    assert api.put(path, {"active": False}, format="json").json()["body"]["active"] is False
    assert me(client, token).status_code == 401
    assert me(client, workload).status_code == 401
    assert login(client, key["body"]["key"]).status_code == 401
    api.put(path, {"active": True}, format="json")
    assert me(client, token).status_code == 200

    api.put(f"/api/v1/service_accounts/{account['id']}", {"active": False}, format="json")
    assert me(client, token).status_code == 401
    assert login(client, key["body"]["key"]).status_code == 401
    api.put(f"/api/v1/service_accounts/{account['id']}", {"active": True}, format="json")
    assert api.delete(path).status_code == 200
    assert me(client, token).status_code == 401


def test_garbage_api_keys_are_refused(client, tenant):
    for key in ("", "ZENKEY_", "ZENKEY_not-base64!", "ZENKEY_eyJpZCI6ICJ4In0=", "nope"):
        response = login(client, key)
        assert response.status_code == 401
        assert response.json()["detail"] == ["CredentialsNotValid", "Authentication error: error decoding API key"]


def test_service_accounts_are_not_users(api, admin, tenant, client):
    account = create_account(api)
    names = [item["name"] for item in api.get("/api/v1/users").json()["items"]]
    assert names == ["admin"]
    assert api.get(f"/api/v1/users/{account['id']}").status_code == 404
    User.objects.filter(pk=account["id"]).update(password=User.objects.get(pk=admin.pk).password)
    response = client.post("/api/v1/login", {"username": "ci-bot", "password": "x" * 12})
    assert response.status_code == 401


def test_service_account_crud(api, tenant):
    account = create_account(api)
    assert api.post("/api/v1/service_accounts", {"name": "ci-bot", "active": True}, format="json").status_code == 409
    updated = api.put(
        "/api/v1/service_accounts/ci-bot", {"full_name": "CI robot", "description": "builds"}, format="json"
    ).json()
    assert updated["body"]["full_name"] == "CI robot" and updated["metadata"]["description"] == "builds"
    create_key(api, account)
    duplicate = api.post(f"/api/v1/service_accounts/{account['id']}/api_keys", {"name": "default"}, format="json")
    assert duplicate.status_code == 409
    assert api.get("/api/v1/service_accounts?active=true&name=contains:bot").json()["total"] == 1
    assert api.delete(f"/api/v1/service_accounts/{account['id']}").status_code == 200
    assert not User.objects.filter(pk=account["id"]).exists() and not APIKey.objects.exists()


def test_service_accounts_and_keys_are_isolated_between_tenants(api, client, tenant, db):
    account = create_account(api)
    key = create_key(api, account)
    other = create_tenant("other")
    charlie = User.objects.create_user("charlie", password="x" * 12)
    access.add_member(other, charlie)
    theirs = TenantClient(charlie, other)
    keys = f"/api/v1/service_accounts/{account['id']}/api_keys"
    for path in (f"/api/v1/service_accounts/{account['id']}", "/api/v1/service_accounts/ci-bot", keys):
        assert theirs.get(path).status_code == 404
    assert theirs.get("/api/v1/service_accounts").json()["total"] == 0
    assert theirs.put(f"/api/v1/service_accounts/{account['id']}", {"active": False}, format="json").status_code == 404
    assert theirs.delete(f"/api/v1/service_accounts/{account['id']}").status_code == 404
    assert theirs.post(keys, {"name": "mine"}, format="json").status_code == 404
    assert theirs.put(f"{keys}/{key['id']}/rotate", {}, format="json").status_code == 404
    assert theirs.delete(f"{keys}/{key['id']}").status_code == 404
    # A key of tenant A does not log in to tenant B, nor do its tokens work there.
    assert login(client, key["body"]["key"], "/t/other/api/v1/login").status_code == 401
    token = login(client, key["body"]["key"]).json()["access_token"]
    assert me(client, token, "/t/other").status_code == 401
    assert APIKey.objects.get().active


def test_tenant_admin_cannot_key_an_account_that_holds_more_than_they_do(api, admin, tenant):
    """A key acts as its account: the tenant admin may not mint, rotate or change the keys of an
    organization service account in their tenant that is also org-admin (the key would make them
    org-admin through the control plane). The same rule as /api/control/v1 (tenants.access)."""
    boss = access.create_service_account(tenant.organization, "boss-bot")
    access.assign_role("org-admin", user=boss, organization=tenant.organization)
    access.add_member(tenant, boss, "tenant-viewer")
    key, _ = access.issue_api_key(boss, "main")
    keys = f"/api/v1/service_accounts/{boss.pk}/api_keys"
    assert api.get(keys).status_code == 200  # the account is in their tenant: they see it
    minted = api.post(keys, {"name": "mine"}, format="json")
    assert minted.status_code == 403 and "do not hold" in minted.json()["detail"][1]
    assert api.put(f"{keys}/{key.pk}/rotate", {}, format="json").status_code == 403
    assert api.put(f"{keys}/{key.pk}", {"description": "mine now"}, format="json").status_code == 403
    assert list(APIKey.objects.filter(service_account=boss).values_list("name", "description", "last_rotated")) == [
        ("main", "", None)
    ]
