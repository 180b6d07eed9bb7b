"""`manage.py migrate_secrets`: sql to openbao and back, with interruptions while copying and
while deleting from the source; every secret stays readable and writable throughout, and a
rerun completes the move."""

import io

import pytest
from django.core.management import CommandError, call_command

from secrets_app import relocation
from secrets_app.choices import BackendRole
from secrets_app.models import Secret, SecretBackendConfig, SecretValue
from tests.secrets_app.helpers import configure_openbao, create_secret, marker, read_openbao


def migrate(to: str, **options) -> str:
    out = io.StringIO()
    call_command("migrate_secrets", tenant="acme", to=to, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def make_secrets(api, count: int) -> dict[str, dict]:
    return {
        (created := create_secret(api, f"secret-{n}", {"password": marker(f"move-{n}")}))["id"]: created["body"][
            "values"
        ]
        for n in range(count)
    }


def assert_all_readable(api, expected: dict[str, dict]) -> None:
    for secret_id, values in expected.items():
        assert api.get(f"/api/v1/secrets/{secret_id}").json()["body"]["values"] == values


def interrupt_after(monkeypatch, name: str, count: int) -> None:
    original = getattr(relocation, name)
    calls = []

    def interrupted(*args):
        if len(calls) == count:
            raise RuntimeError("interrupted")
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(relocation, name, interrupted)


def roles(tenant) -> dict[str, str]:
    return dict(SecretBackendConfig.objects.filter(tenant=tenant).values_list("role", "backend"))


def test_sql_to_openbao(api, tenant, bao):
    expected = make_secrets(api, 4)
    target = configure_openbao(tenant, bao, role=BackendRole.TARGET)
    output = migrate("openbao")
    assert "Copied 4 secrets to 'openbao'" in output and "Deleted the values of 4 secrets" in output
    tenant.refresh_from_db()
    assert tenant.secrets_backend == "openbao" and roles(tenant) == {"primary": "openbao"}
    assert set(Secret.objects.values_list("backend", flat=True)) == {"openbao"}
    assert not SecretValue.objects.exists()
    for secret_id, values in expected.items():
        assert read_openbao(bao, target, secret_id) == values
    assert_all_readable(api, expected)
    assert "keeps its secret values in 'openbao'" in migrate("openbao")  # nothing left to do


def test_sql_to_openbao_interrupted_then_rerun(api, tenant, bao, monkeypatch):
    expected = make_secrets(api, 5)
    target = configure_openbao(tenant, bao, role=BackendRole.TARGET)
    interrupt_after(monkeypatch, "copy_secret", 2)
    with pytest.raises(RuntimeError, match="interrupted"):
        migrate("openbao")
    monkeypatch.undo()
    tenant.refresh_from_db()
    assert tenant.secrets_backend == "sql" and SecretValue.objects.count() == 5
    assert_all_readable(api, expected)

    # Meanwhile writes reach both the source and the target.
    changed_id = next(iter(expected))
    api.put(f"/api/v1/secrets/{changed_id}", {"values": {"password": "rotated"}}, format="json")
    expected[changed_id] = {"password": "rotated"}
    added = create_secret(api, "added", {"new": "one"})
    expected[added["id"]] = {"new": "one"}
    assert read_openbao(bao, target, changed_id) == {"password": "rotated"}
    assert read_openbao(bao, target, added["id"]) == {"new": "one"}

    # Copies what the target lacks: not the first two, nor what was written meanwhile.
    assert "switched from 'sql'" in migrate("openbao")
    tenant.refresh_from_db()
    assert tenant.secrets_backend == "openbao" and not SecretValue.objects.exists()
    for secret_id, values in expected.items():
        assert read_openbao(bao, target, secret_id) == values
    assert_all_readable(api, expected)


def test_openbao_to_sql_interrupted_then_rerun(api, tenant, bao, monkeypatch):
    source = configure_openbao(tenant, bao)
    expected = make_secrets(api, 4)
    interrupt_after(monkeypatch, "copy_secret", 1)
    with pytest.raises(RuntimeError):
        migrate("sql")
    monkeypatch.undo()
    assert roles(tenant) == {"primary": "openbao", "target": "sql"}
    assert_all_readable(api, expected)

    assert "Copied 3 secrets to 'sql'" in migrate("sql")
    tenant.refresh_from_db()
    assert tenant.secrets_backend == "sql" and roles(tenant) == {"primary": "sql"}
    assert SecretValue.objects.count() == 4
    for secret_id in expected:
        assert read_openbao(bao, source, secret_id) is None
    assert_all_readable(api, expected)


def test_interrupted_deletion_from_the_source_is_finished_by_a_rerun(api, tenant, bao, monkeypatch):
    source = configure_openbao(tenant, bao)
    expected = make_secrets(api, 3)
    interrupt_after(monkeypatch, "retire_secret", 1)
    with pytest.raises(RuntimeError):
        migrate("sql")
    monkeypatch.undo()
    tenant.refresh_from_db()
    assert tenant.secrets_backend == "sql" and roles(tenant) == {"primary": "sql", "retired": "openbao"}
    assert_all_readable(api, expected)
    assert sum(read_openbao(bao, source, secret_id) is not None for secret_id in expected) == 2

    output = migrate("sql")
    assert "Deleted the values of 2 secrets from the old backend 'openbao'" in output
    assert roles(tenant) == {"primary": "sql"}
    assert all(read_openbao(bao, source, secret_id) is None for secret_id in expected)


def test_keep_source_leaves_the_values_behind(api, tenant, bao):
    expected = make_secrets(api, 2)
    configure_openbao(tenant, bao, role=BackendRole.TARGET)
    migrate("openbao", keep_source=True)
    assert SecretValue.objects.count() == 2 and roles(tenant) == {"primary": "openbao"}
    assert_all_readable(api, expected)


def test_a_value_written_only_to_the_source_around_the_switch_is_not_lost(api, tenant, bao, monkeypatch):
    expected = make_secrets(api, 2)
    target = configure_openbao(tenant, bao, role=BackendRole.TARGET)
    original_switch = relocation.switch

    def switch_after_a_late_write(tenant, target_config):
        # A request that had loaded the backends before the target existed writes the source only.
        late = Secret.objects.create(tenant=tenant, name="late")
        late.store = relocation.tenant_store(tenant, roles=(BackendRole.PRIMARY,))
        late.write_values({"late": "value"})
        expected[str(late.pk)] = {"late": "value"}
        original_switch(tenant, target_config)

    monkeypatch.setattr(relocation, "switch", switch_after_a_late_write)
    migrate("openbao")
    assert_all_readable(api, expected)
    assert read_openbao(bao, target, next(iter(k for k, v in expected.items() if v == {"late": "value"})))
    assert not SecretValue.objects.exists()


def test_target_needs_a_configuration_and_must_answer(api, tenant, bao):
    expected = make_secrets(api, 2)
    with pytest.raises(CommandError, match="Configure the target first"):
        migrate("openbao")
    with pytest.raises(CommandError, match="Unknown backend 'vault'"):
        migrate("vault")
    target = configure_openbao(tenant, bao, role=BackendRole.TARGET)
    SecretBackendConfig.objects.filter(pk=target.pk).update(address="http://127.0.0.1:1")
    with pytest.raises(CommandError) as raised:
        migrate("openbao")
    assert "Secrets backend 'openbao' (target) is unavailable: the connection failed." in str(raised.value)
    tenant.refresh_from_db()
    assert tenant.secrets_backend == "sql"
    assert_all_readable(api, expected)
