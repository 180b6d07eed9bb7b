"""Bad input to /api/v1/secrets: oversized names, value names, values and secrets are a 422
naming the field (and never quoting a value), nothing is written; two concurrent merges of one
secret both land (PostgreSQL, where the row lock matters)."""

import threading

import pytest
from django.db import connection

from secrets_app.models import Secret, SecretValue
from tenants.services import create_tenant
from tests.api_helpers import bearer_client
from tests.conftest import make_user
from tests.secrets_app.helpers import create_secret, marker


@pytest.fixture
def limits(settings):
    settings.SECRETS_MAX_VALUE_BYTES = 100
    settings.SECRETS_MAX_SECRET_BYTES = 250
    return settings


def problem(response) -> str:
    """The message of a 422 (ZenML's bare-list body for validation errors)."""
    assert response.status_code == 422, response.content
    error_class, message = response.json()
    assert error_class == "ValueError"
    return message


def test_a_name_over_255_characters_is_422(api):
    assert "'name'" in problem(api.post("/api/v1/secrets", {"name": "n" * 256, "values": {}}, format="json"))
    secret = create_secret(api, "ok")
    assert "'name'" in problem(api.put(f"/api/v1/secrets/{secret['id']}", {"name": "n" * 256}, format="json"))
    assert list(Secret.objects.values_list("name", flat=True)) == ["ok"]


def test_a_value_over_the_limit_is_422_naming_it(api, limits):
    big = marker("big") + "x" * 100
    message = problem(api.post("/api/v1/secrets", {"name": "s", "values": {"pem": big}}, format="json"))
    assert "values', 'pem'" in message and "at most 100 bytes" in message
    assert "MLMETA_SECRETS_MAX_VALUE_BYTES" in message
    assert big not in message and not Secret.objects.exists() and not SecretValue.objects.exists()


def test_multibyte_values_count_in_bytes(api, limits):
    response = api.post("/api/v1/secrets", {"name": "s", "values": {"k": "é" * 51}}, format="json")
    assert "values', 'k'" in problem(response)
    assert create_secret(api, "s", {"k": "é" * 50})["body"]["values"] == {"k": "é" * 50}


def test_a_secret_over_the_limit_is_422_also_after_a_merge(api, limits):
    secret = create_secret(api, "s", {"a": "x" * 90, "b": "y" * 90})
    path = f"/api/v1/secrets/{secret['id']}"
    message = problem(api.put(f"{path}?patch_values=true", {"values": {"c": "z" * 90}}, format="json"))
    assert "'loc': ('body', 'values')" in message and "at most 250 bytes together" in message
    assert api.get(path).json()["body"]["values"] == {"a": "x" * 90, "b": "y" * 90}
    assert Secret.objects.get().keys == ["a", "b"]
    too_many = {f"k{i}": "v" * 20 for i in range(12)}
    assert "at most 250 bytes" in problem(api.post("/api/v1/secrets", {"name": "t", "values": too_many}, format="json"))


def test_a_value_name_over_255_characters_is_422(api):
    message = problem(api.post("/api/v1/secrets", {"name": "s", "values": {"k" * 256: "v"}}, format="json"))
    assert "at most 255 characters" in message and not Secret.objects.exists()


def test_values_of_the_wrong_type_are_422_without_quoting_them(api):
    secret = create_secret(api, "s", {"a": "b"})
    hidden = marker("typed")
    bodies = [
        {"name": "t", "values": [hidden]},
        {"name": "t", "values": {"pin": 1234, "other": hidden}},
        {"name": "t", "values": {"nested": {"x": hidden}}},
        {"name": 5, "values": {"x": hidden}},
    ]
    for body in bodies:
        message = problem(api.post("/api/v1/secrets", body, format="json"))
        assert hidden not in message and "1234" not in message
    for body in bodies[:3]:
        message = problem(api.put(f"/api/v1/secrets/{secret['id']}", {"values": body["values"]}, format="json"))
        assert hidden not in message and "1234" not in message
    assert "values', 'pin'" in problem(api.post("/api/v1/secrets", bodies[1], format="json"))
    assert list(Secret.objects.values_list("name", flat=True)) == ["s"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_merges_of_one_secret_keep_every_key():
    tenant = create_tenant("acme", name="Acme", is_default=True)
    user = make_user("writer", tenant)
    secret = create_secret(bearer_client(user, tenant), "shared", {"base": "0"})
    path = f"/api/v1/secrets/{secret['id']}?patch_values=true"
    workers, rounds = 4, 6
    barrier = threading.Barrier(workers)
    errors, statuses = [], []  # a clean 409 would be allowed too; the row lock makes it never happen

    def work(worker):
        try:
            api = bearer_client(user, tenant)
            barrier.wait()
            for i in range(rounds):
                response = api.put(path, {"values": {f"w{worker}-{i}": str(i)}}, format="json")
                statuses.append(response.status_code)
        except Exception as exc:  # re-raised in the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert statuses == [200] * workers * rounds
    applied = {f"w{w}-{i}" for w in range(workers) for i in range(rounds)}
    values = bearer_client(user, tenant).get(f"/api/v1/secrets/{secret['id']}").json()["body"]["values"]
    assert set(values) == applied | {"base"}
    assert Secret.objects.get(pk=secret["id"]).keys == sorted(applied | {"base"})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_update_values_calls_keep_every_key():
    """The model method itself (the admin and tasks call it without the API's row UPDATE first)."""
    tenant = create_tenant("acme", name="Acme", is_default=True)
    secret = Secret.objects.create(tenant=tenant, user=make_user("writer", tenant), name="shared")
    secret.write_values({"base": "0"})
    workers, rounds = 4, 6
    barrier = threading.Barrier(workers)
    errors = []

    def work(worker):
        try:
            barrier.wait()
            for i in range(rounds):
                Secret.objects.get(pk=secret.pk).update_values({f"w{worker}-{i}": str(i)})
        except Exception as exc:  # re-raised in the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    applied = {f"w{w}-{i}" for w in range(workers) for i in range(rounds)} | {"base"}
    assert set(Secret.objects.get(pk=secret.pk).read_values("test")) == applied
