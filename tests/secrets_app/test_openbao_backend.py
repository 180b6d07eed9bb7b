"""The `openbao` backend against a real OpenBao dev server: the ZenML secrets API end to end,
values only in OpenBao, token and AppRole authentication, TLS verification, and a backend that
is down (503 naming it, nothing written)."""

import logging
import uuid

import pytest
from django.db import DatabaseError

from secrets_app.backends import build
from secrets_app.choices import BackendAuthMethod
from secrets_app.models import Secret, SecretBackendConfig, SecretValue
from tests.admin_utils import admin_url
from tests.factories import make_account
from tests.secrets_app.helpers import (
    KV_MOUNT,
    BaoServer,
    configure_openbao,
    create_secret,
    database_dump,
    marker,
    read_openbao,
)


@pytest.fixture
def on_bao(tenant, bao):
    return configure_openbao(tenant, bao)


def test_secrets_api_keeps_values_in_openbao_only(api, bao, on_bao, caplog):
    caplog.set_level(logging.DEBUG)
    values = {"username": marker("user"), "password": marker("password")}
    created = create_secret(api, "creds", values)
    path = f"/api/v1/secrets/{created['id']}"
    assert created["body"]["values"] == values
    assert read_openbao(bao, on_bao, created["id"]) == values
    assert Secret.objects.get().backend == "openbao" and not SecretValue.objects.exists()
    assert api.get(path).json()["body"]["values"] == values

    update = {"values": {"password": None, "region": "eu-west-1"}}
    assert api.put(f"{path}?patch_values=true", update, format="json").status_code == 200
    expected = {"username": values["username"], "region": "eu-west-1"}
    assert read_openbao(bao, on_bao, created["id"]) == expected
    assert api.get(path).json()["body"]["values"] == expected
    assert Secret.objects.get().keys == ["region", "username"]

    listed = api.get("/api/v1/secrets?hydrate=true").json()["items"]
    assert [(item["name"], item["body"]["values"]) for item in listed] == [("creds", {})]

    dump = database_dump()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for value in values.values():
        assert value not in dump and value not in logged
    assert on_bao.credential("token") not in dump + logged

    assert api.delete(path).status_code == 200
    assert read_openbao(bao, on_bao, created["id"]) is None
    assert not Secret.objects.exists()


def test_private_secret_and_empty_values_round_trip(api, bao, on_bao):
    created = create_secret(api, "mine", {}, private=True)
    assert read_openbao(bao, on_bao, created["id"]) == {}
    assert api.get(f"/api/v1/secrets/{created['id']}").json()["body"]["values"] == {}


def test_approle_login_reads_and_writes(api, tenant, bao):
    root = bao.client()
    if "approle/" not in root.sys.list_auth_methods()["data"]:
        root.sys.enable_auth_method("approle")
    prefix = f"mlmeta-tests/{uuid.uuid4().hex}"
    role_name = f"mlmeta-{prefix[-12:]}"
    policy = f'path "{KV_MOUNT}/data/{prefix}/*" {{ capabilities = ["create", "read", "update"] }}\n'
    policy += f'path "{KV_MOUNT}/metadata/{prefix}/*" {{ capabilities = ["delete"] }}'
    root.sys.create_or_update_policy(name=role_name, policy=policy)
    root.auth.approle.create_or_update_approle(role_name, token_policies=[role_name], token_ttl="5m")
    config = configure_openbao(
        tenant,
        bao,
        auth_method=BackendAuthMethod.APPROLE,
        path_prefix=prefix,
        role_id=root.auth.approle.read_role_id(role_name)["data"]["role_id"],
        secret_id=root.auth.approle.generate_secret_id(role_name)["data"]["secret_id"],
        token="",
    )
    assert not config.has_credential("token")

    values = {"token": marker("approle")}
    created = create_secret(api, "via-approle", values)
    assert read_openbao(bao, config, created["id"]) == values
    assert api.get(f"/api/v1/secrets/{created['id']}").json()["body"]["values"] == values
    assert api.delete(f"/api/v1/secrets/{created['id']}").status_code == 200
    assert read_openbao(bao, config, created["id"]) is None


def test_refused_token_is_a_503(api, tenant, bao):
    configure_openbao(tenant, bao, token="not-a-token")
    response = api.post("/api/v1/secrets", {"name": "x", "values": {"a": "b"}}, format="json")
    assert response.status_code == 503
    message = "Secrets backend 'openbao' (primary) is unavailable: its credentials were refused."
    assert response.json()["detail"][1] == message
    assert not Secret.objects.exists()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_with_a_ca_bundle(api, tenant, bao_path, tmp_path):
    server = BaoServer(bao_path, tmp_path, tls=True)
    try:
        config = configure_openbao(tenant, server)
        created = create_secret(api, "tls", {"a": "b"})
        assert read_openbao(server, config, created["id"]) == {"a": "b"}

        SecretBackendConfig.objects.filter(pk=config.pk).update(ca_bundle="")  # the system's CAs only
        response = api.get(f"/api/v1/secrets/{created['id']}")
        assert response.status_code == 503 and "TLS certificate could not be verified" in response.json()["detail"][1]

        SecretBackendConfig.objects.filter(pk=config.pk).update(tls_verify=False)
        assert api.get(f"/api/v1/secrets/{created['id']}").json()["body"]["values"] == {"a": "b"}
    finally:
        server.stop()


def test_backend_down_answers_503_and_writes_nothing(api, tenant, spare_bao, caplog):
    config = configure_openbao(tenant, spare_bao)
    values = {"password": marker("down")}
    created = create_secret(api, "creds", values)
    path = f"/api/v1/secrets/{created['id']}"
    spare_bao.stop()

    for response in (
        api.get(path),
        api.post("/api/v1/secrets", {"name": "new", "values": {"a": "b"}}, format="json"),
        api.put(path, {"name": "renamed", "values": {"password": "changed"}}, format="json"),
        api.delete(path),
    ):
        assert response.status_code == 503, response.content
        assert response.json()["detail"] == [
            "RuntimeError",
            "Secrets backend 'openbao' (primary) is unavailable: the connection failed.",
        ]
    secret = Secret.objects.get()
    assert (secret.name, secret.keys) == ("creds", ["password"])
    assert [item["name"] for item in api.get("/api/v1/secrets").json()["items"]] == ["creds"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert values["password"] not in logged and config.credential("token") not in logged


def test_unconfigured_openbao_tenant_is_a_503(api, tenant):
    tenant.secrets_backend = "openbao"
    tenant.save()
    response = api.post("/api/v1/secrets", {"name": "x", "values": {"a": "b"}}, format="json")
    assert response.status_code == 503 and "not configured for this tenant" in response.json()["detail"][1]
    assert not Secret.objects.exists()


def test_failed_database_write_undoes_the_openbao_write(api, bao, on_bao, monkeypatch):
    existing = create_secret(api, "existing", {"kept": "old"})
    original_save = Secret.save

    def failing_save(self, *args, **kwargs):
        if "keys" in (kwargs.get("update_fields") or ()):
            raise DatabaseError("disk full")
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(Secret, "save", failing_save)
    api.raise_request_exception = False
    created = api.post("/api/v1/secrets", {"name": "new", "values": {"a": "b"}}, format="json")
    updated = api.put(f"/api/v1/secrets/{existing['id']}", {"values": {"kept": "new"}}, format="json")
    assert created.status_code == 500 and updated.status_code == 500
    assert list(Secret.objects.values_list("name", flat=True)) == ["existing"]
    assert read_openbao(bao, on_bao, existing["id"]) == {"kept": "old"}
    prefix = bao.client().secrets.kv.v2.list_secrets(path=on_bao.path_prefix, mount_point=KV_MOUNT)
    assert prefix["data"]["keys"] == [existing["id"]]


def test_backend_identity_tells_stores_apart(tenant, bao):
    config = configure_openbao(tenant, bao)
    same = build("openbao", config)
    assert same.identity() == ("openbao", bao.address, KV_MOUNT, config.path_prefix)
    assert build("sql").identity() == ("sql",)


def test_configuration_needs_credentials(tenant, bao):
    config = SecretBackendConfig(tenant=tenant, role="backup", backend="openbao", address="bao:8200")
    with pytest.raises(Exception) as raised:
        config.full_clean()
    assert set(raised.value.message_dict) == {"address", "token"}
    config.auth_method = BackendAuthMethod.APPROLE
    with pytest.raises(Exception) as raised:
        config.full_clean()
    assert set(raised.value.message_dict) == {"address", "role_id", "secret_id"}


def test_admin_takes_credentials_but_never_shows_them(client, tenant, bao):
    client.force_login(make_account("root", is_superuser=True, is_staff=True))
    token = marker("admin-token")
    form = {
        "tenant": tenant.pk,
        "role": "backup",
        "backend": "openbao",
        "address": bao.address,
        "mount": KV_MOUNT,
        "path_prefix": "mlmeta-tests/admin",
        "auth_method": "token",
        "token": token,
        "tls_verify": "on",
    }
    response = client.post(admin_url(SecretBackendConfig, "add"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    config = SecretBackendConfig.objects.get()
    assert config.credential("token") == token and token not in config.token_ciphertext

    changelist = client.get(admin_url(SecretBackendConfig, "changelist")).content.decode()
    change = client.get(admin_url(SecretBackendConfig, "change", config.pk)).content.decode()
    assert bao.address in changelist and token not in changelist + change + repr(config) + str(config)
    kept = client.post(admin_url(SecretBackendConfig, "change", config.pk), {**form, "token": ""})
    assert kept.status_code == 302
    config.refresh_from_db()
    assert config.credential("token") == token  # an empty field keeps the stored token
