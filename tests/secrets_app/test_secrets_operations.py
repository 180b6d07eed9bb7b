"""`PUT /api/v1/secrets_operations/backup|restore` with the `sql` backend as primary and a real
OpenBao as backup: every value of the tenant is copied, only with `backup_restore`, and a tenant
without a backup backend gets an error naming the problem."""

import pytest

from secrets_app.backends import get_backend
from secrets_app.choices import BackendRole
from secrets_app.models import Secret, SecretValue
from tenants.models import AuditEvent
from tests.api_helpers import bearer_client
from tests.conftest import make_user
from tests.secrets_app.helpers import KV_MOUNT, configure_openbao, create_secret, marker, read_openbao

BACKUP = "/api/v1/secrets_operations/backup"
RESTORE = "/api/v1/secrets_operations/restore"


@pytest.fixture
def boss(tenant):
    return make_user("boss", tenant, is_admin=True)


@pytest.fixture
def api(boss, tenant):
    return bearer_client(boss, tenant)


@pytest.fixture
def secrets_before_backup(api):
    """Three secrets written while the tenant had no backup backend: only the primary has them."""
    return [create_secret(api, f"s{i}", {"password": marker(f"s{i}"), "user": f"u{i}"}) for i in range(3)]


def values_of(secret_id) -> dict | None:
    return get_backend("sql").get_values(Secret.objects.get(pk=secret_id))


def test_backup_copies_every_value_to_the_backup(api, tenant, bao, secrets_before_backup):
    backup = configure_openbao(tenant, bao, role=BackendRole.BACKUP)
    assert all(read_openbao(bao, backup, s["id"]) is None for s in secrets_before_backup)

    response = api.put(BACKUP)

    assert response.status_code == 200, response.content
    assert response.json() == {"copied": 3, "failed": []}
    for secret in secrets_before_backup:
        assert read_openbao(bao, backup, secret["id"]) == values_of(secret["id"])
    assert SecretValue.objects.count() == 3  # the primary keeps its copy
    event = AuditEvent.objects.get(detail__startswith="secrets backup")
    assert event.actor.username == "boss" and event.detail == "secrets backup: 3 copied, 0 failed"


def test_restore_brings_the_backup_back_into_the_primary(api, tenant, bao, secrets_before_backup):
    backup = configure_openbao(tenant, bao, role=BackendRole.BACKUP)
    api.put(BACKUP)
    expected = {s["id"]: values_of(s["id"]) for s in secrets_before_backup}
    SecretValue.objects.all().delete()  # the primary lost everything

    response = api.put(RESTORE)

    assert response.status_code == 200 and response.json() == {"copied": 3, "failed": []}
    assert {s["id"]: values_of(s["id"]) for s in secrets_before_backup} == expected
    assert all(read_openbao(bao, backup, secret_id) == values for secret_id, values in expected.items())


def test_restore_stops_at_the_first_missing_secret_unless_errors_are_ignored(api, tenant, bao, secrets_before_backup):
    backup = configure_openbao(tenant, bao, role=BackendRole.BACKUP)
    api.put(BACKUP)
    first, *rest = sorted(secrets_before_backup, key=lambda s: s["id"])
    bao.client().secrets.kv.v2.delete_metadata_and_all_versions(
        path=f"{backup.path_prefix}/{first['id']}", mount_point=KV_MOUNT
    )
    SecretValue.objects.all().delete()

    stopped = api.put(RESTORE)  # ignore_errors defaults to false for a restore, as on ZenML
    assert stopped.status_code == 404
    message = stopped.json()["detail"][1]
    assert f"Secret {first['id']} (s" in message and "'openbao' (backup)" in message
    assert not SecretValue.objects.exists()

    carried_on = api.put(f"{RESTORE}?ignore_errors=true")
    assert carried_on.status_code == 200
    assert carried_on.json()["copied"] == 2
    assert [failure["id"] for failure in carried_on.json()["failed"]] == [first["id"]]
    assert values_of(first["id"]) is None and all(values_of(s["id"]) for s in rest)


def test_backup_with_delete_secrets_moves_the_values(api, tenant, bao, secrets_before_backup):
    backup = configure_openbao(tenant, bao, role=BackendRole.BACKUP)
    expected = {s["id"]: values_of(s["id"]) for s in secrets_before_backup}

    assert api.put(f"{BACKUP}?delete_secrets=true").json()["copied"] == 3

    assert not SecretValue.objects.exists()
    for secret_id, values in expected.items():
        assert read_openbao(bao, backup, secret_id) == values
        assert api.get(f"/api/v1/secrets/{secret_id}").json()["body"]["values"] == values  # read from the backup


def test_a_backup_that_is_down_answers_503_naming_it(api, tenant, spare_bao, secrets_before_backup):
    configure_openbao(tenant, spare_bao, role=BackendRole.BACKUP)
    spare_bao.stop()
    response = api.put(f"{BACKUP}?ignore_errors=false")
    assert response.status_code == 503
    assert "'openbao' (backup) is unavailable" in response.json()["detail"][1]
    skipped = api.put(BACKUP)  # ignore_errors defaults to true for a backup
    assert skipped.status_code == 200 and skipped.json()["copied"] == 0 and len(skipped.json()["failed"]) == 3


def test_without_a_backup_backend_the_error_names_it(api, secrets_before_backup):
    for path in (BACKUP, RESTORE):
        response = api.put(path)
        assert response.status_code == 400
        error_class, message = response.json()["detail"]
        assert error_class == "BackupSecretsStoreNotConfiguredError"
        assert "Tenant 'acme' has no backup secrets backend" in message and "role 'backup'" in message


@pytest.mark.parametrize("role", ["tenant-developer", "tenant-viewer"])
def test_backup_and_restore_need_backup_restore(tenant, bao, secrets_before_backup, role):
    backup = configure_openbao(tenant, bao, role=BackendRole.BACKUP)
    outsider = bearer_client(make_user("dev", tenant, role=role), tenant)
    for path in (BACKUP, RESTORE):
        response = outsider.put(path)
        assert response.status_code == 403
        error_class, message = response.json()["detail"]
        assert error_class == "IllegalOperationError" and "backup_restore" in message
    assert all(read_openbao(bao, backup, s["id"]) is None for s in secrets_before_backup)
    assert AuditEvent.objects.filter(action="permission_denied", actor__username="dev").count() == 2


def test_bad_flags_are_422(api, tenant, bao):
    configure_openbao(tenant, bao, role=BackendRole.BACKUP)
    response = api.put(f"{BACKUP}?ignore_errors=maybe")
    assert response.status_code == 422 and "ignore_errors" in str(response.json())
