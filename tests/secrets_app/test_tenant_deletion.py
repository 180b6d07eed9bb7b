"""Deleting a tenant deletes its secret values from its external backends too (all or nothing),
and the admin does not let an operator change a tenant's secrets backend behind
migrate_secrets' back."""

import pytest
from django.db import transaction
from django.urls import reverse

from secrets_app.choices import BackendRole
from secrets_app.cleanup import TenantValuesNotDeleted
from secrets_app.models import Secret, SecretBackendConfig
from tenants.models import Tenant, User
from tests.api_helpers import TenantClient
from tests.conftest import make_user
from tests.secrets_app.helpers import configure_openbao, create_secret, marker, read_openbao


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("root", password="x" * 12)


@pytest.fixture
def other_api(other):
    return TenantClient(make_user("owner", other, is_admin=True), other)


def test_deleting_a_tenant_in_the_admin_deletes_its_openbao_values(client, operator, other, other_api, bao):
    primary = configure_openbao(other, bao)
    backup = configure_openbao(other, bao, role=BackendRole.BACKUP)
    ids = [create_secret(other_api, f"s{i}", {"k": marker(f"del{i}")})["id"] for i in range(2)]
    assert all(read_openbao(bao, config, i) for config in (primary, backup) for i in ids)

    client.force_login(operator)
    response = client.post(reverse("admin:tenants_tenant_delete", args=[other.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Tenant.objects.filter(pk=other.pk).exists() and not Secret.objects.filter(pk__in=ids).exists()
    assert all(read_openbao(bao, config, i) is None for config in (primary, backup) for i in ids)


def test_a_backend_that_is_down_stops_the_deletion_and_nothing_is_lost(other, other_api, bao, spare_bao):
    primary = configure_openbao(other, bao)
    configure_openbao(other, spare_bao, role=BackendRole.BACKUP)
    secrets = {create_secret(other_api, f"s{i}", {"k": f"v{i}"})["id"]: {"k": f"v{i}"} for i in range(2)}
    spare_bao.stop()

    with pytest.raises(TenantValuesNotDeleted) as refused, transaction.atomic():
        other.delete()

    assert "'openbao' (backup) is unavailable" in str(refused.value.detail)
    assert Tenant.objects.filter(pk=other.pk).exists() and Secret.objects.filter(tenant=other).count() == 2
    assert {i: read_openbao(bao, primary, i) for i in secrets} == secrets  # put back after the failure


def test_the_sql_backend_needs_no_external_cleanup(other, other_api):
    create_secret(other_api, "s", {"k": "v"})
    other.delete()
    assert not Secret.objects.exists() and not SecretBackendConfig.objects.exists()


def test_the_admin_shows_the_secrets_backend_read_only(client, operator, other):
    client.force_login(operator)
    url = reverse("admin:tenants_tenant_change", args=[other.pk])
    page = client.get(url).content.decode()
    assert "manage.py migrate_secrets --tenant SLUG --to BACKEND" in page
    assert 'name="secrets_backend"' not in page

    form = {"organization": other.organization_id, "slug": other.slug, "name": "Renamed", "active": "on"}
    response = client.post(url, {**form, "secrets_backend": "openbao"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    other.refresh_from_db()
    assert other.name == "Renamed" and other.secrets_backend == "sql"
