"""A backup backend: every write goes to the primary and the backup, all or nothing; reads fall
back to the backup when the primary is down. Both are real OpenBao servers here, the primary
one that the tests stop."""

import pytest

from secrets_app.choices import BackendRole
from secrets_app.models import Secret, SecretValue
from tests.secrets_app.helpers import KV_MOUNT, BaoServer, configure_openbao, create_secret, marker, read_openbao


@pytest.fixture
def primary(tenant, spare_bao):
    return configure_openbao(tenant, spare_bao)


@pytest.fixture
def backup(tenant, bao):
    return configure_openbao(tenant, bao, role=BackendRole.BACKUP)


def stored_ids(server, config) -> list[str]:
    try:
        listed = server.client().secrets.kv.v2.list_secrets(path=config.path_prefix, mount_point=KV_MOUNT)
    except Exception:  # nothing stored under the prefix yet
        return []
    return sorted(listed["data"]["keys"])


def test_reads_fall_back_to_the_backup_when_the_primary_dies(api, spare_bao, bao, primary, backup):
    values = {"password": marker("backup")}
    created = create_secret(api, "creds", values)
    path = f"/api/v1/secrets/{created['id']}"
    api.put(f"{path}?patch_values=true", {"values": {"region": "eu"}}, format="json")
    both = {**values, "region": "eu"}
    assert read_openbao(spare_bao, primary, created["id"]) == both == read_openbao(bao, backup, created["id"])

    spare_bao.stop()
    assert api.get(path).json()["body"]["values"] == both
    response = api.put(path, {"values": {"region": "us"}}, format="json")
    assert response.status_code == 503
    assert "'openbao' (primary) is unavailable" in response.json()["detail"][1]
    assert read_openbao(bao, backup, created["id"]) == both


def test_a_backup_that_is_down_fails_the_write_and_the_primary_is_undone(tenant, api, bao, bao_path, tmp_path):
    backup_server = BaoServer(bao_path, tmp_path)
    try:
        primary = configure_openbao(tenant, bao)
        configure_openbao(tenant, backup_server, role=BackendRole.BACKUP)
        existing = create_secret(api, "existing", {"kept": "old"})
        backup_server.stop()

        responses = [
            api.post("/api/v1/secrets", {"name": "new", "values": {"a": "b"}}, format="json"),
            api.put(f"/api/v1/secrets/{existing['id']}", {"values": {"kept": "new"}}, format="json"),
            api.delete(f"/api/v1/secrets/{existing['id']}"),
        ]
        for response in responses:
            assert response.status_code == 503
            assert "'openbao' (backup) is unavailable" in response.json()["detail"][1]
        assert list(Secret.objects.values_list("name", flat=True)) == ["existing"]
        assert stored_ids(bao, primary) == [existing["id"]]
        assert read_openbao(bao, primary, existing["id"]) == {"kept": "old"}
        assert api.get(f"/api/v1/secrets/{existing['id']}").json()["body"]["values"] == {"kept": "old"}
    finally:
        backup_server.stop()


def test_sql_primary_with_an_openbao_backup(tenant, api, bao):
    backup = configure_openbao(tenant, bao, role=BackendRole.BACKUP)
    created = create_secret(api, "creds", {"a": "b"})
    assert SecretValue.objects.count() == 1
    assert read_openbao(bao, backup, created["id"]) == {"a": "b"}
    SecretValue.objects.all().delete()  # lost from the primary: the backup still answers
    assert api.get(f"/api/v1/secrets/{created['id']}").json()["body"]["values"] == {"a": "b"}
    assert api.delete(f"/api/v1/secrets/{created['id']}").status_code == 200
    assert read_openbao(bao, backup, created["id"]) is None
