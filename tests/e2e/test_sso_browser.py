"""Single sign-on end to end: a second MLMeta process on loopback is the OpenID Connect provider
(django-oauth-toolkit), the MLMeta under test is another process whose organization "Acme Corp"
signs in through it, and Debian's chromium (driven by Playwright) clicks through the login.

The two servers answer at different host names (localhost for the provider, 127.0.0.1 for MLMeta),
so their session cookies never overwrite each other. Each has its own SQLite database and var dir.
The provider also serves the client-credentials grant to a CI system acting as a service account.
"""

import json
import subprocess
import sys

import pytest
import requests

from tests.e2e.conftest import CHROMIUM, ROOT, Server, require, running, sqlite_server

SCREENSHOTS = ROOT / "test-output"
SP_CLIENT_ID = "mlmeta-acme"
SP_CLIENT_SECRET = "sp-client-secret-0123456789abcdef"
CI_CLIENT_ID = "ci-pipeline"
CI_CLIENT_SECRET = "ci-client-secret-0123456789abcdef"
DANA_PASSWORD = "Dana-Correct-Horse-77"

PROVIDER_SETUP = """
from oauth2_provider.models import Application
from tenants import access
from tenants.models import Team, Tenant, User
tenant = Tenant.objects.get(is_default=True)
dana = User.objects.create_user("dana", email="dana@acme.example", password={password!r}, full_name="Dana Scully")
access.add_member(tenant, dana, "tenant-viewer")
Team.objects.create(organization=tenant.organization, name="ml-engineers").members.add(dana)
robot = User.objects.create(username="ci-robot", is_service_account=True, organization=tenant.organization)
access.add_member(tenant, robot, "tenant-developer")
Application.objects.create(
    name="MLMeta Acme", client_id={sp_id!r}, client_secret={sp_secret!r}, redirect_uris={redirect!r},
    client_type="confidential", authorization_grant_type="authorization-code", algorithm="RS256",
    skip_authorization=True,
)
Application.objects.create(
    name="CI", client_id={ci_id!r}, client_secret={ci_secret!r}, user=robot,
    client_type="confidential", authorization_grant_type="client-credentials",
)
"""

SP_SETUP = """
from tenants.models import Organization, Team
from tenants.services import create_tenant
org = Organization.objects.create(slug="acme", name="Acme Corp")
create_tenant("acme-ml", name="Acme ML", organization=org)
Team.objects.create(organization=org, name="Engineers")
"""

# The operator's command, its client secret read from stdin.
CONFIGURE_SSO = """
call_command("configure_sso", "acme", "--issuer={issuer}", "--client-id={client_id}", "--client-secret=-",
    "--scopes=openid email profile", "--map-group=ml-engineers=Engineers", "--allowed-domains=acme.example",
    "--default-role=tenant-viewer", "--default-tenant=acme-ml", "--jit=on", "--enable")
"""


BOOTSTRAP = "from django.core.management import call_command\ncall_command('bootstrap')\n"


def set_up(servers_and_code: list[tuple[Server, str, str]]) -> None:
    """Each server's `manage.py shell -c CODE` (stdin: the given input), all at once."""
    started = []
    for server, code, stdin in servers_and_code:
        command = [sys.executable, "manage.py", "shell", "-c", code]
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
        started.append((server, subprocess.Popen(command, cwd=ROOT, env=server.env, text=True, **pipes), stdin))
    for server, process, stdin in started:
        output, _ = process.communicate(stdin, timeout=300)
        assert process.returncode == 0, f"setting up {server.url} failed:\n{output}"


@pytest.fixture(scope="module")
def servers(tmp_path_factory, migrated_sqlite):
    """(provider, mlmeta): the provider knows dana and MLMeta as a client; MLMeta's organization
    "acme" signs in through it, mapping the group ml-engineers to its team Engineers. Each is
    bootstrapped and set up in one Django shell of its own, both at once, then served."""
    require(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium")
    provider = sqlite_server(tmp_path_factory.mktemp("oidc-provider"), migrated_sqlite, host="localhost")
    mlmeta = sqlite_server(tmp_path_factory.mktemp("mlmeta-sp"), migrated_sqlite)
    provider_setup = PROVIDER_SETUP.format(
        password=DANA_PASSWORD,
        sp_id=SP_CLIENT_ID,
        sp_secret=SP_CLIENT_SECRET,
        redirect=f"{mlmeta.url}/sso/acme/callback",
        ci_id=CI_CLIENT_ID,
        ci_secret=CI_CLIENT_SECRET,
    )
    configure_sso = CONFIGURE_SSO.format(issuer=f"{provider.url}/oauth", client_id=SP_CLIENT_ID)
    set_up(
        [
            (provider, BOOTSTRAP + provider_setup, ""),
            (mlmeta, BOOTSTRAP + SP_SETUP + configure_sso, SP_CLIENT_SECRET + "\n"),
        ]
    )
    with running(provider, mlmeta):
        yield provider, mlmeta


def query(server: Server, code: str):
    """The JSON a snippet prints (`print(json.dumps(...))`) in the server's Django shell."""
    return json.loads(server.manage("shell", "-c", code).strip().splitlines()[-1])


def test_sign_in_through_the_provider_in_a_browser(servers, browser):
    provider, mlmeta = servers
    SCREENSHOTS.mkdir(exist_ok=True)
    page = browser.new_page()
    try:
        page.goto(f"{mlmeta.url}/login")
        page.get_by_role("link", name="Sign in with Acme Corp").click()
        page.wait_for_load_state()
        assert page.url.startswith(f"{provider.url}/login"), f"{page.url}\n{page.content()[:3000]}"
        page.fill("#id_username", "dana")
        page.fill("#id_password", DANA_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{mlmeta.url}/t/acme-ml/**")
        page.screenshot(path=str(SCREENSHOTS / "sso-signed-in.png"), full_page=True)
        header = page.locator("header.topbar").inner_text()
        assert "dana@acme.example" in header and "Acme ML" in header, header
    finally:
        page.context.close()
    user, events = query(
        mlmeta,
        "import json; from tenants.models import AuditEvent, User; "
        "u = User.objects.get(email='dana@acme.example'); "
        "logins = AuditEvent.objects.filter(via='sso', action='login'); "
        "print(json.dumps([[u.username, u.full_name, sorted(u.teams.values_list('name', flat=True))], "
        "list(logins.values_list('actor_name', flat=True))]))",
    )
    assert user == ["dana@acme.example", "Dana Scully", ["Engineers"]]
    assert events == ["dana@acme.example"]


def test_client_credentials_token_acts_as_the_service_account(servers):
    provider, _ = servers

    def token(scope: str) -> str:
        response = requests.post(
            f"{provider.url}/oauth/token/",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(CI_CLIENT_ID, CI_CLIENT_SECRET),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    read_only = {"Authorization": f"Bearer {token('read')}"}
    me = requests.get(f"{provider.url}/api/v1/current-user", headers=read_only, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["name"] == "ci-robot"
    refused = requests.post(f"{provider.url}/api/v1/tags", json={"name": "nightly"}, headers=read_only, timeout=10)
    assert refused.status_code == 403
    assert refused.headers["Content-Type"].startswith("application/json")
    assert "does not allow POST" in refused.text
    writer = {"Authorization": f"Bearer {token('read write')}"}
    created = requests.post(f"{provider.url}/api/v1/tags", json={"name": "nightly"}, headers=writer, timeout=10)
    assert created.status_code in (200, 201), created.text
