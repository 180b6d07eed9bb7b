from django.urls import reverse

from mlmeta.models import Pipeline, PipelineRun
from tests.conftest import PASSWORD


def make_run(tenant, name, pipeline_name="training"):
    from tenants.models import Project

    project = Project.objects.get(tenant=tenant, name="default")
    pipeline, _ = Pipeline.objects.get_or_create(project=project, name=pipeline_name, defaults={"tenant": tenant})
    return PipelineRun.objects.create(project=project, pipeline=pipeline, name=name, status="completed")


def test_login_page_renders(client, db):
    response = client.get("/login")
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b"<label" in response.content


def test_home_redirects_anonymous_users_to_login(client, tenant_a):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login?next=/")


def test_login_with_password_lands_on_recent_runs(client, alice, tenant_a):
    make_run(tenant_a, "training-run-1")
    response = client.post("/login", {"username": "alice", "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert response.wsgi_request.user == alice
    assert b"training-run-1" in response.content


def test_login_with_wrong_password_shows_an_error(client, alice):
    response = client.post("/login", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert b"Wrong username or password." in response.content
    assert not response.wsgi_request.user.is_authenticated


def test_logout_ends_the_session(alice_client):
    response = alice_client.post("/logout")
    assert response.status_code == 302
    assert alice_client.get("/").status_code == 302


def test_home_shows_only_this_tenants_runs(alice_client, tenant_a, tenant_b):
    make_run(tenant_a, "alpha-run")
    make_run(tenant_b, "beta-run")
    response = alice_client.get("/")
    assert b"alpha-run" in response.content
    assert b"beta-run" not in response.content


def test_empty_home_tells_a_new_user_how_to_connect(alice_client):
    response = alice_client.get("/")
    assert b"No runs yet" in response.content
    assert b"zenml login http://testserver" in response.content


def test_tenant_prefix_serves_that_tenant(client, charlie, tenant_a, tenant_b):
    client.force_login(charlie)
    assert b"zenml login http://testserver/t/beta" in client.get("/t/beta/").content
    make_run(tenant_b, "beta-run")
    response = client.get("/t/beta/")
    assert response.status_code == 200
    assert b"beta-run" in response.content
    # Links on the page stay inside the tenant's prefix.
    assert b'href="/t/beta/"' in response.content
    # The prefix does not leak into URLs reversed after the request.
    assert reverse("home") == "/"


def test_member_of_another_tenant_is_refused(charlie_client, tenant_a):
    make_run(tenant_a, "alpha-run")
    response = charlie_client.get("/runs/")
    assert response.status_code == 403
    assert b"alpha-run" not in response.content
    # The root page sends him to his own tenant rather than refusing.
    assert charlie_client.get("/").url == "/t/beta/"


def test_unknown_tenant_is_not_found(alice_client):
    assert alice_client.get("/t/nope/").status_code == 404
    response = alice_client.get("/t/nope/api/v1/info")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_inactive_tenant_is_not_found(charlie_client, tenant_b):
    tenant_b.active = False
    tenant_b.save()
    assert charlie_client.get("/t/beta/").status_code == 404
