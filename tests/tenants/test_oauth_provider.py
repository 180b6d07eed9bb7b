"""MLMeta as an OAuth2 / OpenID Connect provider: discovery, client credentials for CI acting as
a service account, scoped bearer tokens on /api/v1 (read, write, admin) under RBAC."""

import base64
import hashlib
import importlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, RefreshToken

from tenants import access
from tenants.models import User
from tests.conftest import PASSWORD, make_user

CLIENT_SECRET = "ci-client-secret-0123456789abcdef"


@pytest.fixture
def robot(tenant):
    account = User.objects.create(
        username="ci-robot", is_service_account=True, organization=tenant.organization, password="!"
    )
    access.add_member(tenant, account, "tenant-developer")
    return account


def application(user, name="ci", grant=Application.GRANT_CLIENT_CREDENTIALS, **extra) -> Application:
    return Application.objects.create(
        name=name,
        user=user,
        client_id=f"{name}-client",
        client_secret=CLIENT_SECRET,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=grant,
        **extra,
    )


def code_application(user, name: str, redirect_uris: str, **extra) -> Application:
    """A client of the authorization-code flow, signing ID tokens with RS256."""
    return application(
        user,
        name,
        Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=redirect_uris,
        algorithm=Application.RS256_ALGORITHM,
        **extra,
    )


def token_request(client, app, grant_type: str, **fields):
    """POST /oauth/token/ as the confidential client `app`."""
    return client.post(
        "/oauth/token/",
        {"grant_type": grant_type, "client_id": app.client_id, "client_secret": CLIENT_SECRET, **fields},
    )


def client_credentials_token(client, app, scope: str):
    return token_request(client, app, "client_credentials", scope=scope)


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def checksum(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_discovery_and_jwks_publish_the_rsa_key_and_scopes(client, tenant):
    config = client.get("/oauth/.well-known/openid-configuration").json()
    assert config["issuer"].endswith("/oauth")
    assert {"openid", "profile", "email", "read", "write", "admin"} <= set(config["scopes_supported"])
    assert "RS256" in config["id_token_signing_alg_values_supported"]
    assert {"email", "groups"} <= set(config["claims_supported"])
    keys = client.get("/oauth/.well-known/jwks.json").json()["keys"]
    assert keys and keys[0]["kty"] == "RSA" and "d" not in keys[0]


def test_client_credentials_token_acts_as_the_service_account(client, tenant, robot):
    response = client_credentials_token(client, application(robot), "read")
    assert response.status_code == 200, response.content
    token = response.json()
    assert token["scope"] == "read" and token["expires_in"] <= 900
    me = client.get("/api/v1/current-user", **bearer(token["access_token"]))
    assert me.status_code == 200, me.content
    assert me.json()["name"] == "ci-robot"


def test_read_scope_token_is_refused_writes_with_403_json(client, tenant, robot):
    token = client_credentials_token(client, application(robot), "read").json()["access_token"]
    refused = client.post("/api/v1/tags", {"name": "nightly"}, content_type="application/json", **bearer(token))
    assert refused.status_code == 403
    assert "scope (read) does not allow POST" in str(refused.json())
    assert client.get("/api/v1/tags", **bearer(token)).status_code == 200


def test_write_scope_token_writes_within_rbac(client, tenant, robot):
    token = client_credentials_token(client, application(robot), "read write").json()["access_token"]
    created = client.post("/api/v1/tags", {"name": "nightly"}, content_type="application/json", **bearer(token))
    assert created.status_code in (200, 201), created.content
    # A write scope does not widen the account's roles: a developer does not manage users.
    user_write = client.post(
        "/api/v1/users", {"name": "mallory", "password": "x" * 12}, content_type="application/json", **bearer(token)
    )
    assert user_write.status_code == 403


def test_client_credentials_for_a_person_are_refused(client, tenant):
    person = make_user("pat", tenant)
    token = client_credentials_token(client, application(person, "personal"), "read").json()["access_token"]
    refused = client.get("/api/v1/current-user", **bearer(token))
    assert refused.status_code == 401
    assert refused.json()["detail"][0] == "CredentialsNotValid"


def test_unknown_and_expired_oauth_tokens_are_401(client, tenant, robot):
    assert client.get("/api/v1/current-user", **bearer("notarealtoken123")).status_code == 401
    token = client_credentials_token(client, application(robot), "read").json()["access_token"]
    AccessToken.objects.filter(token_checksum=checksum(token)).update(expires=timezone.now() - timedelta(seconds=1))
    expired = client.get("/api/v1/current-user", **bearer(token))
    assert expired.status_code == 401
    assert expired.json()["detail"][0] == "CredentialsNotValid"


def test_clear_expired_task_deletes_expired_tokens(client, tenant, robot):
    from tenants.tasks import clear_expired_oauth_tokens

    token = client_credentials_token(client, application(robot), "read").json()["access_token"]
    AccessToken.objects.filter(token_checksum=checksum(token)).update(expires=timezone.now() - timedelta(days=30))
    clear_expired_oauth_tokens()
    assert not AccessToken.objects.filter(token_checksum=checksum(token)).exists()


def test_consent_page_lets_its_form_redirect_to_the_registered_client_only(client, tenant):
    """The consent form answers with a redirect to the client, which browsers check against the
    page's CSP form-action: the registered redirect URI's origin is allowed, nothing else."""
    alice = make_user("consent-alice", tenant, role="tenant-developer")
    app = code_application(alice, "notebook", "https://notebook.example:8443/callback")
    client.force_login(alice)
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "scope": "read",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }

    page = client.get("/oauth/authorize/", {**query, "redirect_uri": "https://notebook.example:8443/callback"})
    assert page.status_code == 200
    form_action = next(d for d in page["Content-Security-Policy"].split(";") if d.strip().startswith("form-action"))
    assert form_action.split()[1:] == ["'self'", "https://notebook.example:8443"]

    foreign = client.get("/oauth/authorize/", {**query, "redirect_uri": "https://evil.example/cb"})
    assert "evil.example" not in foreign.get("Content-Security-Policy", "")


def test_login_page_of_an_authorization_lets_its_form_redirect_to_the_registered_client_only(client, tenant):
    """An application that skips consent: the login form's answer redirects through the authorize
    endpoint straight to the client, so the login page's CSP form-action allows that registered
    origin; a foreign redirect URI, an unknown client or a plain login page add nothing."""
    alice = make_user("login-alice", tenant, role="tenant-developer")
    app = code_application(alice, "sso", "https://sp.example:8443/sso/acme/callback", skip_authorization=True)

    def form_action(next_url: str | None) -> list[str]:
        page = client.get("/login", {"next": next_url} if next_url else {})
        assert page.status_code == 200
        directive = next(d for d in page["Content-Security-Policy"].split(";") if d.strip().startswith("form-action"))
        return directive.split()[1:]

    authorize = f"/oauth/authorize/?response_type=code&client_id={app.client_id}&scope=openid"
    assert form_action(f"{authorize}&redirect_uri=https%3A%2F%2Fsp.example%3A8443%2Fsso%2Facme%2Fcallback") == [
        "'self'",
        "https://sp.example:8443",
    ]
    assert form_action(authorize) == ["'self'", "https://sp.example:8443"]  # the registered default
    assert form_action(f"{authorize}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb") == ["'self'"]
    assert form_action("/oauth/authorize/?client_id=nobody&redirect_uri=https%3A%2F%2Fevil.example%2Fcb") == ["'self'"]
    assert form_action("/runs/") == ["'self'"]
    assert form_action(None) == ["'self'"]


VERIFIER = "v" * 50
CALLBACK = "https://notebook.example/callback"


def authorization_code_tokens(client, tenant) -> tuple[dict, Application]:
    """The authorization-code flow with PKCE (S256) for a tenant member, as a notebook would run it."""
    alice = make_user("code-alice", tenant, role="tenant-developer")
    app = code_application(alice, "notebook", CALLBACK, skip_authorization=True)
    client.force_login(alice)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
    answer = client.get(
        "/oauth/authorize/",
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid read",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert answer.status_code == 302, answer.content
    returned = parse_qs(urlsplit(answer["Location"]).query)
    assert returned["iss"][0].endswith("/oauth")  # RFC 9207
    client.logout()
    tokens = token_request(
        client, app, "authorization_code", code=returned["code"][0], redirect_uri=CALLBACK, code_verifier=VERIFIER
    )
    assert tokens.status_code == 200, tokens.content
    return tokens.json(), app


def refresh(client, app, refresh_token: str):
    return token_request(client, app, "refresh_token", refresh_token=refresh_token)


def test_tokens_are_stored_only_as_their_sha256(client, tenant, robot, admin_client):
    """A database dump or the admin's token lists show no usable token; the tokens still work."""
    issued = client_credentials_token(client, application(robot), "read").json()["access_token"]
    tokens, _ = authorization_code_tokens(client, tenant)
    raws = (issued, tokens["access_token"], tokens["refresh_token"])
    stored = list(AccessToken.objects.values()) + list(RefreshToken.objects.values())
    assert len(stored) == 3
    assert all(row["token"] == "" for row in stored)
    assert not any(raw in repr(stored) for raw in raws)
    assert {row["token_checksum"] for row in stored} == {checksum(raw) for raw in raws}
    assert client.get("/api/v1/current-user", **bearer(issued)).json()["name"] == "ci-robot"
    assert client.get("/api/v1/current-user", **bearer(tokens["access_token"])).json()["name"] == "code-alice"
    for page in ("/admin/oauth2_provider/accesstoken/", "/admin/oauth2_provider/refreshtoken/"):
        listed = admin_client.get(page)
        assert listed.status_code == 200
        assert not any(raw in listed.content.decode() for raw in raws)


def test_a_refresh_token_presented_twice_revokes_what_it_was_refreshed_into(client, tenant):
    tokens, app = authorization_code_tokens(client, tenant)
    renewed = refresh(client, app, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.content
    renewed = renewed.json()
    assert client.get("/api/v1/current-user", **bearer(renewed["access_token"])).status_code == 200
    replayed = refresh(client, app, tokens["refresh_token"])  # a stolen copy, used after the owner
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
    assert client.get("/api/v1/current-user", **bearer(renewed["access_token"])).status_code == 401
    assert refresh(client, app, renewed["refresh_token"]).status_code == 400


def test_password_grant_plain_pkce_and_tokens_in_the_query_are_refused(client, tenant):
    person = make_user("pw-alice", tenant, role="tenant-developer")
    app = application(person, "legacy", Application.GRANT_PASSWORD)
    password = token_request(client, app, "password", username="pw-alice", password=PASSWORD)
    assert password.status_code in (400, 401) and "access_token" not in password.json()

    tokens, notebook = authorization_code_tokens(client, tenant)
    client.force_login(User.objects.get(username="code-alice"))
    plain = client.get(
        "/oauth/authorize/",
        {
            "response_type": "code",
            "client_id": notebook.client_id,
            "redirect_uri": CALLBACK,
            "scope": "read",
            "code_challenge": VERIFIER,
            "code_challenge_method": "plain",
        },
    )
    assert "code" not in parse_qs(urlsplit(plain.get("Location", "")).query)
    client.logout()
    alice = User.objects.get(username="code-alice")
    assert client.get("/oauth/userinfo/", **bearer(tokens["access_token"])).json()["sub"] == str(alice.pk)
    in_the_url = client.get("/oauth/userinfo/", {"access_token": tokens["access_token"]})
    assert in_the_url.status_code == 400 and in_the_url.json()["error"] == "invalid_request"
    in_the_url = client.get("/api/v1/current-user", {"access_token": tokens["access_token"]})
    assert in_the_url.status_code == 401


def test_tokens_stored_in_plaintext_before_are_redacted_and_keep_working(client, tenant, robot):
    """tenants 0009 blanks the plaintext of tokens issued before their hashing was on."""
    from django.apps import apps

    redact = importlib.import_module("tenants.migrations.0009_redact_oauth_tokens").redact
    old = AccessToken.objects.create(
        token="issued-before-the-upgrade-0123",
        application=application(robot),
        expires=timezone.now() + timedelta(minutes=5),
        scope="read",
    )
    assert AccessToken.objects.get(pk=old.pk).token == "issued-before-the-upgrade-0123"
    redact(apps, None)
    assert AccessToken.objects.get(pk=old.pk).token == ""
    me = client.get("/api/v1/current-user", **bearer("issued-before-the-upgrade-0123"))
    assert me.status_code == 200 and me.json()["name"] == "ci-robot"
