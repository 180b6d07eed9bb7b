"""Single sign-on through an organization's OpenID Connect provider: claim mapping, refusals,
group → team sync, invitations, the views' refusals and audit trail, and a write-only secret.
(The real provider and browser are in tests/e2e/test_sso_browser.py.)"""

import pytest
from django.core.management import call_command
from django.urls import reverse

from tenants import access, rbac
from tenants.models import AuditEvent, Invitation, OrganizationSSO, SSOIdentity, Team, User
from tenants.sso import views as sso_views
from tenants.sso.provisioning import SSOClaims, SSORefused, map_claims, sign_in, sync_teams
from tests.conftest import make_user

SECRET = "provider-client-secret-0123456789"


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


@pytest.fixture
def sso(org, tenant_a):
    Team.objects.create(organization=org, name="Engineers")
    Team.objects.create(organization=org, name="Viewers")
    Team.objects.create(organization=org, name="Unmapped")
    config = OrganizationSSO(
        organization=org,
        enabled=True,
        issuer="https://idp.example.com",
        client_id="mlmeta",
        group_teams={"eng": ["Engineers"], "all": "Viewers"},
        allowed_domains="example.com, example.org",
        default_role=access.find_role("tenant-viewer"),
        default_tenant=tenant_a,
    )
    config.client_secret = SECRET
    config.full_clean()
    config.save()
    return config


def claims(**overrides) -> dict:
    base = {"sub": "idp-42", "email": "Dana@Example.com", "name": "Dana Scully", "groups": ["eng"]}
    return {**base, **overrides}


def test_map_claims_uses_the_configured_claim_names(sso):
    sso.email_claim, sso.name_claim, sso.groups_claim = "mail", "display", "roles"
    mapped = map_claims(sso, {"sub": "s1", "mail": "X@Example.com", "display": "X Y", "roles": "eng"})
    assert mapped == SSOClaims(subject="s1", email="x@example.com", name="X Y", groups=("eng",))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"email": None}, "missing_email"),
        ({"email": "not-an-address"}, "missing_email"),
        ({"sub": ""}, "missing_subject"),
        ({"email_verified": False}, "email_not_verified"),
    ],
)
def test_map_claims_refuses_unusable_claims(sso, raw, reason):
    with pytest.raises(SSORefused) as refused:
        map_claims(sso, claims(**raw))
    assert refused.value.reason == reason


def test_sign_in_provisions_a_new_user_with_teams_and_default_role(sso, tenant_a):
    user, created = sign_in(sso, map_claims(sso, claims(groups=["eng", "all"])))
    assert created
    assert (user.email, user.full_name, user.has_usable_password()) == ("dana@example.com", "Dana Scully", False)
    assert set(user.teams.values_list("name", flat=True)) == {"Engineers", "Viewers"}
    assert rbac.may_use_tenant(user, tenant_a)
    assert SSOIdentity.objects.get(sso=sso, subject="idp-42").user == user


def test_sign_in_refuses_a_domain_not_allowed(sso):
    with pytest.raises(SSORefused) as refused:
        sign_in(sso, map_claims(sso, claims(email="mallory@evil.test")))
    assert refused.value.reason == "domain_not_allowed"
    assert not User.objects.filter(email="mallory@evil.test").exists()


def test_sign_in_refuses_unknown_users_when_jit_is_off(sso):
    sso.jit_provisioning = False
    with pytest.raises(SSORefused) as refused:
        sign_in(sso, map_claims(sso, claims()))
    assert refused.value.reason == "unknown_user"
    assert not User.objects.filter(email__iexact="dana@example.com").exists()


def test_sign_in_finds_an_existing_member_by_email_and_later_by_subject(sso, tenant_a):
    member = make_user("dana", tenant_a, email="dana@example.com")
    user, created = sign_in(sso, map_claims(sso, claims()))
    assert (user, created) == (member, False)
    again, _ = sign_in(sso, map_claims(sso, claims(email="dana.scully@example.com")))
    assert again == member
    member.refresh_from_db()
    assert member.email == "dana.scully@example.com"


def test_sign_in_never_takes_over_an_account_outside_the_organization(sso):
    outsider = make_user("victim", email="dana@example.com")
    with pytest.raises(SSORefused) as refused:
        sign_in(sso, map_claims(sso, claims()))
    assert refused.value.reason == "account_elsewhere"
    assert not SSOIdentity.objects.filter(user=outsider).exists()


def test_sign_in_refuses_superusers(sso, tenant_a):
    make_user("root", tenant_a, email="dana@example.com", is_superuser=True)
    with pytest.raises(SSORefused) as refused:
        sign_in(sso, map_claims(sso, claims()))
    assert refused.value.reason == "superuser"


def test_group_sync_adds_and_removes_only_mapped_teams(sso, tenant_a):
    user = make_user("dana", tenant_a, email="dana@example.com")
    teams = {t.name: t for t in Team.objects.filter(organization=sso.organization)}
    teams["Viewers"].members.add(user)
    teams["Unmapped"].members.add(user)
    result = sync_teams(sso, user, ("eng",))
    assert result == {"added": ["Engineers"], "removed": ["Viewers"]}
    assert set(user.teams.values_list("name", flat=True)) == {"Engineers", "Unmapped"}
    sync_teams(sso, user, ())
    assert set(user.teams.values_list("name", flat=True)) == {"Unmapped"}
    assert AuditEvent.objects.filter(action="update", resource_type="team", via="sso").count() == 3


def test_pending_invitation_is_accepted_at_first_sign_in(sso, tenant_a):
    sso.jit_provisioning = False  # an invitation lets its addressee in all the same
    sso.save()
    invitation = Invitation(organization=sso.organization, email="dana@example.com")
    invitation.new_token()
    invitation.save()
    access.assign_role("tenant-developer", invitation=invitation, tenant=tenant_a)
    invitation.teams.add(Team.objects.get(organization=sso.organization, name="Unmapped"))
    user, created = sign_in(sso, map_claims(sso, claims(groups=[])))
    assert created
    invitation.refresh_from_db()
    assert invitation.accepted is not None and invitation.accepted_by == user
    assert not invitation.role_assignments.exists()
    assert user.role_assignments.filter(role__slug="tenant-developer", tenant=tenant_a).exists()
    assert set(user.teams.values_list("name", flat=True)) == {"Unmapped"}


def test_configuration_rejects_teams_and_domains_that_do_not_exist(sso):
    sso.group_teams = {"eng": ["No such team"]}
    sso.allowed_domains = "example.com, not a domain"
    with pytest.raises(Exception) as invalid:
        sso.full_clean()
    assert set(invalid.value.message_dict) == {"group_teams", "allowed_domains"}


# --- views -----------------------------------------------------------------------------------
def test_login_page_offers_sign_in_with_enabled_organizations(client, sso):
    page = client.get("/login").content.decode()
    assert f"Sign in with {sso.organization.name}" in page
    assert reverse("sso-login", args=[sso.organization.slug]) in page
    sso.enabled = False
    sso.save()
    assert "Sign in with" not in client.get("/login").content.decode()


@pytest.mark.parametrize("slug", ["no-such-org", "disabled"])
def test_sso_of_unknown_or_disabled_organization_is_404_and_audited(client, sso, slug):
    if slug == "disabled":
        sso.enabled = False
        sso.save()
        slug = sso.organization.slug
    response = client.get(f"/sso/{slug}/login")
    assert response.status_code == 404
    assert "no single sign-on" in response.content.decode()
    assert AuditEvent.objects.filter(action="login_failed", via="sso", resource_name=slug).exists()


def test_callback_with_a_bad_state_is_400(client, sso):
    response = client.get(f"/sso/{sso.organization.slug}/callback?code=abc&state=forged")
    assert response.status_code == 400
    assert "invalid or has expired" in response.content.decode()
    event = AuditEvent.objects.get(action="login_failed", via="sso")
    assert event.detail.startswith("invalid_state")


def test_callback_with_a_provider_error_is_400(client, sso):
    response = client.get(f"/sso/{sso.organization.slug}/callback?error=access_denied&error_description=nope")
    assert response.status_code == 400
    assert "did not sign you in: nope" in response.content.decode()


def test_login_redirects_to_the_provider_with_pkce_state_and_nonce(client, sso, monkeypatch):
    metadata = {"authorization_endpoint": "https://idp.example.com/authorize", "issuer": sso.issuer}
    monkeypatch.setattr("authlib.integrations.django_client.DjangoOAuth2App.load_server_metadata", lambda s: metadata)
    response = client.get(f"/sso/{sso.organization.slug}/login")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("https://idp.example.com/authorize?")
    for part in ("code_challenge_method=S256", "state=", "nonce=", "client_id=mlmeta", "scope=openid"):
        assert part in location
    assert "redirect_uri=http%3A%2F%2Ftestserver%2Fsso%2Facme%2Fcallback" in location


class FakeProvider:
    """Stands in for Authlib's client after it validated the ID token (tested end to end in e2e)."""

    def __init__(self, userinfo):
        self.token = {"access_token": "at", "id_token": "x.y.z", "userinfo": userinfo}

    def authorize_access_token(self, request):
        return self.token

    def load_server_metadata(self):
        return {}


def test_callback_signs_in_provisions_and_lands_on_the_tenant(client, sso, tenant_a, monkeypatch):
    monkeypatch.setattr(sso_views.sso_client, "client_for", lambda config: FakeProvider(claims()))
    response = client.get(f"/sso/{sso.organization.slug}/callback?code=c&state=s")
    assert response.status_code == 302
    assert response["Location"] == tenant_a.get_absolute_url()
    user = User.objects.get(email="dana@example.com")
    assert client.get("/").status_code == 200
    assert client.session["_auth_user_id"] == str(user.pk)
    event = AuditEvent.objects.get(action="login", via="sso")
    assert event.actor_id == user.pk and event.organization_id == sso.organization_id


def test_callback_refusal_renders_a_page_and_audits_the_reason(client, sso, monkeypatch):
    monkeypatch.setattr(sso_views.sso_client, "client_for", lambda config: FakeProvider(claims(email="x@evil.test")))
    response = client.get(f"/sso/{sso.organization.slug}/callback?code=c&state=s")
    assert response.status_code == 403
    assert "evil.test may not sign in" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.get(action="login_failed", via="sso").detail.startswith("domain_not_allowed")


# --- the secret is write-only ----------------------------------------------------------------
def test_client_secret_is_stored_sealed(sso):
    row = OrganizationSSO.objects.values("client_secret_sealed").get(pk=sso.pk)
    assert SECRET not in row["client_secret_sealed"]
    assert OrganizationSSO.objects.get(pk=sso.pk).client_secret == SECRET


def test_admin_never_renders_the_client_secret(client, sso, django_user_model):
    operator = django_user_model.objects.create_superuser("op", "op@example.com", "op-password-123")
    client.force_login(operator)
    page = client.get(reverse("admin:tenants_organizationsso_change", args=[sso.pk])).content.decode()
    assert "client_secret" in page and SECRET not in page
    assert sso.client_secret_sealed not in page


def test_configure_sso_command_reads_the_secret_from_stdin(org, tenant_a, monkeypatch, capsys):
    import io

    Team.objects.create(organization=org, name="Engineers")
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-from-stdin\n"))
    call_command(
        "configure_sso",
        org.slug,
        "--issuer=https://idp.example.com/oauth",
        "--client-id=mlmeta",
        "--client-secret=-",
        "--map-group=eng=Engineers",
        "--default-role=tenant-viewer",
        f"--default-tenant={tenant_a.slug}",
        "--enable",
    )
    sso = OrganizationSSO.objects.get(organization=org)
    assert sso.enabled and sso.client_secret == "s3cret-from-stdin"
    assert sso.group_teams == {"eng": ["Engineers"]}
    out = capsys.readouterr().out
    assert "s3cret" not in out
    assert "s3cret" not in str(AuditEvent.objects.filter(resource_type="organization").values_list("changes"))
