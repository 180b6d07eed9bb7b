"""How users log the real zenml 0.98.0 client in to MLMeta (wire.md 3.2-3.4): `zenml login URL`
approved in the dashboard, service-account API keys, and a second tenant that keeps its runs
and tokens to itself."""

import re
from dataclasses import dataclass

import pytest
import requests

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME

PIPELINE = "pipeline.py"
CLIENT_API = "client_api.py"
VERIFY_LINK = r"http://\S+/devices/verify\?device_id=[0-9a-f-]{36}&user_code=[0-9a-f]{32}"
API_KEY = re.compile(r"ZENKEY_[A-Za-z0-9+/=]+")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def field_value(page: str, name: str) -> str:
    return re.search(rf'<input [^>]*name="{name}"[^>]* value="([^"]*)"', page)[1]


def dashboard_login(base_url: str, username: str, password: str) -> requests.Session:
    """A browser session logged in to the dashboard at base_url (a tenant's root)."""
    session = requests.Session()
    page = session.get(f"{base_url}/login", timeout=30)
    page.raise_for_status()
    credentials = {"username": username, "password": password, "csrfmiddlewaretoken": CSRF.search(page.text)[1]}
    landed = session.post(f"{base_url}/login", data=credentials, timeout=30)
    assert landed.status_code == 200 and "/login" not in landed.url, landed.text[-2000:]
    return session


def approve_device(session: requests.Session, link: str) -> str:
    """Open the link `zenml login` printed and submit its form, as the user would; the answer page."""
    page = session.get(link, timeout=30)
    assert page.status_code == 200, page.text[-2000:]
    form = {name: field_value(page.text, name) for name in ("csrfmiddlewaretoken", "device_id", "user_code")}
    action = link.split("?")[0]
    answer = session.post(action, data=form, headers={"Referer": link}, timeout=30)
    assert answer.status_code == 200, answer.text[-2000:]
    return answer.text


def api_token(base_url: str, username: str, password: str) -> str:
    """A password-grant token of the tenant at base_url."""
    response = requests.post(f"{base_url}/api/v1/login", data={"username": username, "password": password}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def api_get(base_url: str, path: str, token: str) -> requests.Response:
    return requests.get(f"{base_url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)


# The device flow: `zenml login URL`, approved in the dashboard


def test_zenml_login_with_the_device_flow_approved_in_the_dashboard(mlmeta_server, new_zenml_client):
    client = new_zenml_client(store_env=False)
    with client.background("login", mlmeta_server.url) as login:
        link = login.wait_for(VERIFY_LINK)[0]
        assert link.startswith(f"{mlmeta_server.url}/devices/verify?")
        answer = approve_device(dashboard_login(mlmeta_server.url, ADMIN_USERNAME, ADMIN_PASSWORD), link)
        assert "Return to your terminal" in answer
        result = login.result().ok()
    assert f"Successfully logged in to {mlmeta_server.url}" in result.output

    # Later commands of this installation use the token stored by the login. (Not `zenml user
    # describe`: 0.98.0 fails on any hydrated user, looking up `password_changed_at` on the model
    # instead of its metadata.)
    assert client.script(CLIENT_API, "whoami").ok().data["name"] == ADMIN_USERNAME
    assert ADMIN_USERNAME in client.cli("user", "list").ok().output


# Service-account API keys


@pytest.fixture(scope="module")
def api_key(zenml) -> str:
    """The key `zenml service-account create` made (and printed) with the account."""
    created = zenml.cli("service-account", "create", "e2e-robot").ok()
    return API_KEY.search(created.output)[0]


def test_api_key_logs_in_until_it_is_deactivated(mlmeta_server, new_zenml_client, api_key):
    logged_in = new_zenml_client(store_env=False)
    login = logged_in.cli("login", mlmeta_server.url, "--api-key", input=api_key + "\n").ok()
    assert "using an API key" in login.output
    by_env = new_zenml_client(api_key=api_key)
    for client in (logged_in, by_env):
        assert "default" in client.cli("stack", "list").ok().output

    token = api_token(mlmeta_server.url, ADMIN_USERNAME, ADMIN_PASSWORD)
    deactivated = requests.put(
        f"{mlmeta_server.url}/api/v1/service_accounts/e2e-robot/api_keys/default",
        json={"active": False},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert deactivated.status_code == 200 and deactivated.json()["body"]["active"] is False, deactivated.text

    for client in (logged_in, by_env):
        refused = client.cli("stack", "list")
        assert refused.returncode != 0, refused.describe()
        assert "CredentialsNotValid: Authentication error: error decoding API key" in refused.output, refused.describe()


# A second tenant on the same server


@dataclass
class TenantSite:
    url: str
    username: str
    password: str


@pytest.fixture(scope="module")
def acme(mlmeta_server) -> TenantSite:
    """Tenant `acme` at <server>/t/acme, with a member who belongs to no other tenant."""
    username, password = "acme-dev", "acme-Correct-Horse-7"
    return TenantSite(mlmeta_server.add_tenant("acme", username, password), username, password)


@pytest.fixture(scope="module")
def acme_run(new_zenml_client, acme) -> dict:
    client = new_zenml_client(url=acme.url, username=acme.username, password=acme.password)
    return client.script(PIPELINE, "e2e_pipeline").ok().data


def test_pipeline_run_in_a_second_tenant_is_recorded_there(mlmeta_server, acme, acme_run):
    assert acme_run["status"] == "completed"
    code = f"from mlmeta.models import PipelineRun; print(PipelineRun.objects.get(pk='{acme_run['id']}').tenant.slug)"
    assert mlmeta_server.manage("shell", "-v", "0", "-c", code).split() == ["acme"]
    acme_token = api_token(acme.url, acme.username, acme.password)
    assert api_get(acme.url, f"/runs/{acme_run['id']}", acme_token).json()["name"] == acme_run["name"]


def test_default_tenant_does_not_see_the_second_tenants_run(mlmeta_server, acme_run):
    # The admin is an operator of every tenant: the tenant of the URL still decides what is listed.
    token = api_token(mlmeta_server.url, ADMIN_USERNAME, ADMIN_PASSWORD)
    assert api_get(mlmeta_server.url, f"/runs/{acme_run['id']}", token).status_code == 404
    listed = api_get(mlmeta_server.url, f"/runs?size=1000&name={acme_run['name']}", token).json()
    assert listed["total"] == 0 and listed["items"] == []
    everything = api_get(mlmeta_server.url, "/runs?size=1000", token).json()
    assert acme_run["id"] not in {run["id"] for run in everything["items"]}


def test_tokens_of_one_tenant_are_refused_by_the_other(mlmeta_server, acme):
    acme_token = api_token(acme.url, acme.username, acme.password)
    root_token = api_token(mlmeta_server.url, ADMIN_USERNAME, ADMIN_PASSWORD)
    assert api_get(acme.url, "/current-user", acme_token).json()["name"] == acme.username
    for url, token in ((mlmeta_server.url, acme_token), (acme.url, root_token)):
        refused = api_get(url, "/current-user", token)
        assert refused.status_code == 401 and refused.json()["detail"][0] == "CredentialsNotValid", refused.text
    # acme's member is no member of the default tenant, so cannot log in there either.
    stranger = requests.post(
        f"{mlmeta_server.url}/api/v1/login", data={"username": acme.username, "password": acme.password}, timeout=30
    )
    assert stranger.status_code == 401
