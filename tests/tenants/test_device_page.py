"""The dashboard page `zenml login URL` sends its user to (`verification_uri_complete`): approving a
device goes through the same OAuthDevice.verify() as `PUT /api/v1/devices/{id}/verify`."""

from datetime import timedelta
from urllib.parse import quote, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from tenants.choices import OAuthDeviceStatus
from tenants.models import OAuthDevice
from tests.conftest import make_user

CLIENT_ID = "0b0b3b4c-49a5-4a57-9a9d-3a2c5b8d6c11"
USER_AGENT = "Host/laptop-42 ZenML/0.98.0 Python/3.11.7 OS/Linux"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def authorize(prefix: str = "") -> dict:
    """`zenml login` starts the flow: the device authorization response, plus the page's path."""
    response = Client().post(
        f"{prefix}/api/v1/device_authorization", {"client_id": CLIENT_ID}, HTTP_USER_AGENT=USER_AGENT
    )
    assert response.status_code == 200, response.content
    found = response.json()
    link = urlsplit(found["verification_uri_complete"])
    found["page"] = f"{link.path}?{link.query}"
    found["device_id"] = link.query.split("device_id=")[1].split("&")[0]
    return found


def poll(flow: dict, prefix: str = ""):
    data = {"grant_type": DEVICE_GRANT, "client_id": CLIENT_ID, "device_code": flow["device_code"]}
    return Client().post(f"{prefix}/api/v1/login", data)


def approve(client, flow: dict, user_code: str | None = None, prefix: str = "", **extra):
    data = {"device_id": flow["device_id"], "user_code": user_code or flow["user_code"], **extra}
    return client.post(f"{prefix}/devices/verify", data)


def current_user(token: str, prefix: str = ""):
    return Client().get(f"{prefix}/api/v1/current-user", HTTP_AUTHORIZATION=f"Bearer {token}")


def csrf_token(client, path: str) -> str:
    client.get(path)
    return client.cookies["csrftoken"].value


@pytest.fixture
def flow(tenant_a) -> dict:
    return authorize()


@pytest.fixture
def logged_in_device(alice_client, flow) -> tuple[dict, str]:
    """A device alice approved, and the token its poll got."""
    assert approve(alice_client, flow).status_code == 200
    return flow, poll(flow).json()["access_token"]


def device() -> OAuthDevice:
    return OAuthDevice.objects.get()


def test_verify_page_shows_the_device_and_its_form(alice_client, flow):
    response = alice_client.get(flow["page"])
    assert response.status_code == 200
    page = response.content.decode()
    for shown in ("laptop-42", "Linux", "127.0.0.1", "ZenML 0.98.0", "Python 3.11.7", "Requested", "Expires"):
        assert shown in page
    assert f'value="{flow["user_code"]}"' in page and f'value="{flow["device_id"]}"' in page
    assert 'name="trusted_device"' in page and "csrfmiddlewaretoken" in page


def test_approve_device_lets_its_next_poll_get_a_token(alice, flow):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert approve(browser, flow).status_code == 403  # no CSRF token
    assert poll(flow).json()["error"] == "authorization_pending"

    token = csrf_token(browser, flow["page"])
    response = approve(browser, flow, trusted_device="on", csrfmiddlewaretoken=token)
    assert response.status_code == 200
    assert b"Return to your terminal" in response.content
    assert (device().status, device().user, device().trusted_device) == (OAuthDeviceStatus.VERIFIED, alice, True)

    granted = poll(flow)
    assert granted.status_code == 200
    assert current_user(granted.json()["access_token"]).json()["name"] == "alice"


def test_approve_device_with_wrong_code_shows_a_form_error(alice_client, flow):
    response = approve(alice_client, flow, user_code="0" * 32)
    assert response.status_code == 400
    assert b"Wrong code" in response.content and b"laptop-42" not in response.content
    assert (device().status, device().failed_auth_attempts) == (OAuthDeviceStatus.PENDING, 1)
    assert poll(flow).json()["error"] == "authorization_pending"

    approve(alice_client, flow, user_code="nope")
    response = approve(alice_client, flow, user_code="nope")
    assert b"this device is now locked" in response.content
    assert device().status == OAuthDeviceStatus.LOCKED
    assert approve(alice_client, flow).status_code == 400  # the right code is too late now
    assert poll(flow).json()["error"] == "access_denied"


def test_verify_page_refuses_an_expired_or_already_verified_device(alice_client, flow):
    OAuthDevice.objects.update(expires=timezone.now() - timedelta(seconds=1))
    page = alice_client.get(flow["page"])
    assert page.status_code == 200 and b"has expired" in page.content and b'name="user_code"' not in page.content
    assert b"has expired" in approve(alice_client, flow).content

    flow = authorize()  # the client starts over
    assert approve(alice_client, flow).status_code == 200
    again = approve(alice_client, flow)
    assert again.status_code == 400 and b"You have already approved this device." in again.content
    assert b"You have already approved this device." in alice_client.get(flow["page"]).content


@pytest.mark.parametrize("query", ["device_id=not-a-uuid&user_code=x", f"device_id={CLIENT_ID}&user_code=x"])
def test_verify_page_answers_unknown_devices_without_error(alice_client, flow, query):
    response = alice_client.get(f"/devices/verify?{query}")
    assert response.status_code == 404 and b"No device with this ID" in response.content
    posted = alice_client.post("/devices/verify", {"device_id": query.split("=")[1].split("&")[0], "user_code": "x"})
    assert posted.status_code == 400 and b"No device with this ID" in posted.content


def test_verify_page_redirects_anonymous_users_to_login(client, flow, tenant_b):
    response = client.get(flow["page"])
    assert response.status_code == 302
    assert response["Location"] == "/login?next=" + quote(flow["page"], safe="/")
    response = client.post("/devices/verify", {"device_id": flow["device_id"], "user_code": flow["user_code"]})
    assert response.status_code == 302 and device().status == OAuthDeviceStatus.PENDING
    assert client.get("/t/beta/devices/verify")["Location"].startswith("/t/beta/login?next=/t/beta/devices/verify")


def test_verify_page_refuses_a_device_of_another_tenant(charlie, flow, tenant_a, tenant_b):
    browser = Client()
    browser.force_login(charlie)
    assert browser.get(flow["page"]).status_code == 403  # not a member of the default tenant
    theirs = browser.get("/t/beta" + flow["page"])
    assert theirs.status_code == 404 and b"laptop-42" not in theirs.content
    posted = approve(browser, flow, prefix="/t/beta")
    assert posted.status_code == 400 and b"No device with this ID" in posted.content
    assert device().status == OAuthDeviceStatus.PENDING and poll(flow).json()["error"] == "authorization_pending"

    # The link a client of tenant beta gets is that tenant's page, and works there.
    beta_flow = authorize("/t/beta")
    assert beta_flow["page"].startswith("/t/beta/devices/verify?")
    assert b"laptop-42" in browser.get(beta_flow["page"]).content
    assert approve(browser, beta_flow, prefix="/t/beta").status_code == 200
    token = poll(beta_flow, "/t/beta").json()["access_token"]
    assert current_user(token, "/t/beta").status_code == 200
    assert current_user(token).status_code == 401


def test_verify_page_lists_the_users_devices(alice_client, logged_in_device, tenant_a):
    flow, _ = logged_in_device
    page = alice_client.get("/devices/verify").content.decode()
    assert "Your devices" in page and "laptop-42" in page
    assert f'action="/devices/{flow["device_id"]}/revoke"' in page

    bob = make_user("bob", tenant_a)
    bob_client = Client()
    bob_client.force_login(bob)
    assert b"laptop-42" not in bob_client.get("/devices/verify").content


def test_revoke_device_stops_its_tokens(alice_client, logged_in_device, tenant_a):
    flow, token = logged_in_device
    assert current_user(token).status_code == 200

    bob = make_user("bob", tenant_a)
    bob_client = Client()
    bob_client.force_login(bob)
    refused = bob_client.post(f"/devices/{flow['device_id']}/revoke", follow=True)
    assert b"You have no such device" in refused.content
    assert current_user(token).status_code == 200

    response = alice_client.post(f"/devices/{flow['device_id']}/revoke")
    assert response.status_code == 302 and response["Location"] == "/devices/verify"
    assert current_user(token).status_code == 401
    assert not OAuthDevice.objects.exists()
    after = alice_client.get("/devices/verify").content
    assert b"Revoked laptop-42" in after and b"Your devices" not in after
    assert alice_client.get(f"/devices/{flow['device_id']}/revoke").status_code == 405
