"""The OAuth2 device flow end to end (recorded step 04), hashed codes, locking and deletion."""

from datetime import timedelta

import jwt
import pytest
from django.db import connection
from django.utils import timezone

from tenants import access
from tenants.choices import OAuthDeviceStatus
from tenants.models import OAuthDevice, User
from tenants.services import create_tenant
from tests.api_helpers import TenantClient, bearer_client
from tests.traffic import Replayer, envelope_keys, recorded

RECORDED_CLIENT = "fa39c73f-d3ed-49fc-835c-db135853f6b9"
RECORDED_DEVICE = "7433a4fd-d588-4e95-bbbe-7ce12e1056f5"
RECORDED_USER_CODE = "c4af72d56231f67caa1152d7a2011420"
CLIENT_ID = "0b0b3b4c-49a5-4a57-9a9d-3a2c5b8d6c11"
USER_AGENT = "Host/vm ZenML/0.98.0 Python/3.11.7 OS/Linux"


@pytest.fixture
def admin(tenant):
    user = User.objects.create_user("admin", password="x" * 12)
    access.add_member(tenant, user)
    return user


def authorize(client, client_id=CLIENT_ID, prefix=""):
    response = client.post(
        f"{prefix}/api/v1/device_authorization", {"client_id": client_id}, HTTP_USER_AGENT=USER_AGENT
    )
    assert response.status_code == 200, response.content
    return response.json()


def poll(client, device_code, client_id=CLIENT_ID):
    grant = "urn:ietf:params:oauth:grant-type:device_code"
    return client.post("/api/v1/login", {"grant_type": grant, "client_id": client_id, "device_code": device_code})


def device_id(authorization) -> str:
    return authorization["verification_uri_complete"].split("device_id=")[1].split("&")[0]


def logged_in_device(client, api):
    authorization = authorize(client)
    device = device_id(authorization)
    api.put(f"/api/v1/devices/{device}/verify", {"user_code": authorization["user_code"]}, format="json")
    return device, poll(client, authorization["device_code"]).json()["access_token"]


def me(client, token):
    return client.get("/api/v1/current-user", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_replay_recorded_device_flow(client, api, admin):
    [start] = recorded("04-auth-device-flow", "POST", "/device_authorization")
    authorization = authorize(client, RECORDED_CLIENT)
    assert set(authorization) == set(start["resp_body"])
    assert (authorization["expires_in"], authorization["interval"]) == (300, 5)
    assert len(authorization["device_code"]) == 64 and len(authorization["user_code"]) == 32
    assert authorization["verification_uri"] == "http://testserver/devices/verify"
    device = device_id(authorization)
    assert authorization["verification_uri_complete"] == (
        f"http://testserver/devices/verify?device_id={device}&user_code={authorization['user_code']}"
    )
    ids = {RECORDED_DEVICE: device, RECORDED_USER_CODE: authorization["user_code"]}
    secrets = {"device_code": authorization["device_code"]}
    poller, browser = Replayer(client, ids, secrets), Replayer(api, ids)

    pending, _, granted = recorded("04-auth-device-flow", "POST", "/login")
    assert poller.send(pending).json() == pending["resp_body"]

    [shown] = recorded("04-auth-device-flow", "GET", "/devices/")
    seen = browser.send(shown).json()
    assert envelope_keys(seen) == envelope_keys(shown["resp_body"])
    assert {k: seen["body"][k] for k in ("status", "os", "hostname", "ip_address", "user_id")} == {
        "status": "pending",
        "os": "Linux",
        "hostname": "vm",
        "ip_address": "127.0.0.1",
        "user_id": None,
    }
    assert seen["metadata"]["python_version"] == "3.11.7" and seen["metadata"]["zenml_version"] == "0.98.0"

    [verify] = recorded("04-auth-device-flow", "PUT", "/devices/")
    verified = browser.send(verify).json()
    assert envelope_keys(verified) == envelope_keys(verify["resp_body"])
    assert verified["body"]["status"] == "verified" and verified["body"]["user_id"] == str(admin.pk)
    assert verified["resources"]["user"]["name"] == "admin"

    token = poller.send(granted).json()
    assert set(token) == set(granted["resp_body"])
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["device_id"] == device and claims["sub"] == str(admin.pk)
    assert token["expires_in"] > 0 and "exp" in claims
    assert me(client, token["access_token"]).json()["name"] == "admin"
    assert OAuthDevice.objects.get().status == OAuthDeviceStatus.ACTIVE


def test_device_codes_are_stored_hashed(client, tenant):
    authorization = authorize(client)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {OAuthDevice._meta.db_table}")  # noqa: S608 - our own table name
        dump = repr(cursor.fetchall())
    assert authorization["device_code"] not in dump and authorization["user_code"] not in dump


def test_device_code_is_single_use_and_expires(client, api):
    authorization = authorize(client)
    assert poll(client, "0" * 64).json()["error"] == "invalid_grant"
    OAuthDevice.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert poll(client, authorization["device_code"]).json()["error"] == "expired_token"
    device = device_id(authorization)
    late = api.put(f"/api/v1/devices/{device}/verify", {"user_code": authorization["user_code"]}, format="json")
    assert late.status_code == 400

    authorization = authorize(client)  # the same client starts over
    device = device_id(authorization)
    api.put(f"/api/v1/devices/{device}/verify", {"user_code": authorization["user_code"]}, format="json")
    assert poll(client, authorization["device_code"]).status_code == 200
    again = poll(client, authorization["device_code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_wrong_user_codes_lock_the_device(client, api):
    authorization = authorize(client)
    device = device_id(authorization)
    assert api.get(f"/api/v1/devices/{device}?user_code=nope").status_code == 404
    for _ in range(3):
        response = api.put(f"/api/v1/devices/{device}/verify", {"user_code": "nope"}, format="json")
        assert response.status_code == 400
    assert OAuthDevice.objects.get().status == OAuthDeviceStatus.LOCKED
    right = api.put(f"/api/v1/devices/{device}/verify", {"user_code": authorization["user_code"]}, format="json")
    assert right.status_code == 400
    assert poll(client, authorization["device_code"]).json()["error"] == "access_denied"


def test_locking_or_deleting_a_device_stops_its_tokens(client, api):
    device, token = logged_in_device(client, api)
    generic = client.get("/api/v1/api_token?expires_in=600", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert me(client, token).status_code == 200 and me(client, generic).status_code == 200
    listed = api.get("/api/v1/devices?hydrate=True").json()
    assert [item["id"] for item in listed["items"]] == [device]
    assert listed["items"][0]["metadata"]["last_login"] is not None
    assert api.put(f"/api/v1/devices/{device}", {"locked": True}, format="json").json()["body"]["status"] == "locked"
    assert me(client, token).status_code == 401 and me(client, generic).status_code == 401
    api.put(f"/api/v1/devices/{device}", {"locked": False}, format="json")
    assert me(client, token).status_code == 200
    OAuthDevice.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert me(client, token).status_code == 401
    OAuthDevice.objects.update(expires=timezone.now() + timedelta(hours=1))
    assert api.delete(f"/api/v1/devices/{device}").status_code == 200
    assert me(client, token).status_code == 401


def test_devices_are_private_to_their_user_and_tenant(client, api, tenant, db):
    device, token = logged_in_device(client, api)
    bob = User.objects.create_user("bob", password="x" * 12)
    access.add_member(tenant, bob)
    as_bob = bearer_client(bob, tenant)
    assert as_bob.get("/api/v1/devices").json()["total"] == 0
    assert as_bob.get(f"/api/v1/devices/{device}").status_code == 404
    assert as_bob.delete(f"/api/v1/devices/{device}").status_code == 404

    other = create_tenant("other")
    charlie = User.objects.create_user("charlie", password="x" * 12)
    access.add_member(other, charlie)
    theirs = TenantClient(charlie, other)
    assert theirs.get("/api/v1/devices").json()["total"] == 0
    assert theirs.get(f"/api/v1/devices/{device}").status_code == 404
    assert theirs.put(f"/api/v1/devices/{device}", {"locked": True}, format="json").status_code == 404
    # A pending device of tenant A cannot be verified (nor looked at) from tenant B.
    pending = authorize(client, "5f0c1f1e-8a43-4c07-9d59-5b8c3d1e2a10")
    pending_id, code = device_id(pending), pending["user_code"]
    assert theirs.get(f"/api/v1/devices/{pending_id}?user_code={code}").status_code == 404
    assert theirs.put(f"/api/v1/devices/{pending_id}/verify", {"user_code": code}, format="json").status_code == 404
    assert me(client, token).status_code == 200
