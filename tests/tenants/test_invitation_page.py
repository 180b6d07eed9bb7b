"""The invitation link's page: the invitee makes an account and lands in the tenant with the
invitation's role; used, unknown and expired links are refused without creating anyone."""

from django.utils import timezone

from tenants import access, rbac
from tenants.models import Invitation, User


def invite(tenant, role="tenant-viewer"):
    return access.invite(tenant.organization, "vera@example.com", roles=[{"role": role, "tenant": tenant}])


def signup(client, token, username="vera"):
    data = {"username": username, "full_name": "Vera V", "password1": "Str0ng-Horse-99", "password2": "Str0ng-Horse-99"}
    return client.post(f"/invitations/{token}/", data)


def test_invitee_creates_an_account_and_gets_the_role(client, tenant):
    invitation, token = invite(tenant)
    page = client.get(f"/invitations/{token}/")
    assert page.status_code == 200 and "vera@example.com" in page.content.decode()
    response = signup(client, token)
    assert response.status_code == 302 and response.url == tenant.get_absolute_url()
    vera = User.objects.get(username="vera")
    assert vera.email == "vera@example.com" and vera.full_name == "Vera V"
    assert rbac.may_use_tenant(vera, tenant) and not rbac.can(vera, "create", "pipeline", tenant=tenant)
    invitation.refresh_from_db()
    assert invitation.accepted is not None and invitation.accepted_by == vera
    assert client.get(tenant.get_absolute_url()).status_code == 200  # logged in


def test_used_unknown_or_expired_links_are_refused(client, tenant):
    _, token = invite(tenant)
    signup(client, token)
    client.logout()
    assert signup(client, token, username="second").status_code == 404
    assert client.get("/invitations/not-a-token/").status_code == 404
    other, other_token = access.invite(
        tenant.organization, "x@example.com", roles=[{"role": "tenant-viewer", "tenant": tenant}]
    )
    Invitation.objects.filter(pk=other.pk).update(expires=timezone.now())
    assert signup(client, other_token, username="late").status_code == 404
    assert not User.objects.filter(username__in=["second", "late"]).exists()


def test_bad_form_input_is_a_form_error(client, tenant):
    _, token = invite(tenant)
    response = client.post(f"/invitations/{token}/", {"username": "v", "password1": "a", "password2": "b"})
    assert response.status_code == 400
    assert "password fields didn" in response.content.decode()
    assert not User.objects.filter(username="v").exists()


def test_logged_in_user_accepts_into_their_account(client, tenant, other):
    existing = User.objects.create_user("olga", password="Str0ng-Horse-99")
    access.add_member(other, existing)
    _, token = invite(tenant)
    client.force_login(existing)
    response = client.post(f"/invitations/{token}/", {"accept_as_me": "1"})
    assert response.status_code == 302
    assert rbac.may_use_tenant(User.objects.get(pk=existing.pk), tenant)


def test_root_sends_a_member_of_other_tenants_only_to_their_tenant(client, tenant, other):
    member = User.objects.create_user("outsider", password="Str0ng-Horse-99")
    access.add_member(other, member, "tenant-viewer")
    client.force_login(member)
    response = client.get("/")
    assert response.status_code == 302 and response.url == "/t/other/"
    assert client.get("/runs/").status_code == 403
