"""The runs list's FilterSet (mlmeta.run_filters): bad input is a form error naming the field,
never a 500, and the valid filters of the same request still apply."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mlmeta.choices import ExecutionStatus, MetadataResourceType
from mlmeta.models import PipelineRun, RunMetadata
from tests.conftest import make_user
from tests.mlmeta.test_dashboard_runs import make_run, store_root, world  # noqa: F401  (fixtures)


def names(response):
    return sorted(run.name for run in response.context["runs"])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("pipeline=not-a-uuid", "pipeline"),
        ("status=exploded", "status"),
        ("user=" + "u" * 151, "user"),
        ("tag=" + "t" * 256, "tag"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2026-02-30", "created_before"),
        ("created_after=2026-03-02&created_before=2026-03-01", "created_before"),
        ("metadata=nokey", "metadata"),
        ("metadata==0.9", "metadata"),
        ("metadata=" + "m" * 501, "metadata"),
        ("sort=evil", "sort"),
        ("sort=-pk;drop", "sort"),
    ],
)
def test_bad_filter_input_is_a_form_error_naming_the_field(alice_client, world, query, field):  # noqa: F811
    make_run(world, "run-1")
    response = alice_client.get("/runs/?" + query)
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert 'role="alert"' in response.content.decode()


def test_valid_filters_still_apply_next_to_a_bad_one(alice_client, world):  # noqa: F811
    make_run(world, "run-done")
    make_run(world, "run-failed", status=ExecutionStatus.FAILED)
    response = alice_client.get("/runs/?status=failed&pipeline=nope&page=abc")
    assert response.status_code == 200 and names(response) == ["run-failed"]


def test_user_and_time_range_filters(alice_client, world, tenant_a):  # noqa: F811
    bob = make_user("bob", tenant_a)
    make_run(world, "by-alice")
    PipelineRun.objects.filter(pk=make_run(world, "by-bob").pk).update(user=bob)
    old = make_run(world, "old")
    PipelineRun.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=10))
    assert names(alice_client.get("/runs/?user=bob")) == ["by-bob"]
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    until = (timezone.now() - timedelta(days=5)).date().isoformat()
    assert names(alice_client.get(f"/runs/?created_after={since}")) == ["by-alice", "by-bob"]
    assert names(alice_client.get(f"/runs/?created_before={until}")) == ["old"]


def test_metadata_values_read_as_json_unless_json_cannot_store_them(alice_client, world):  # noqa: F811
    run = make_run(world, "run-1")
    for key, value in (("accuracy", 0.9), ("note", "1e999")):
        RunMetadata.objects.create(
            resource_type=MetadataResourceType.PIPELINE_RUN,
            resource_id=run.pk,
            key=key,
            value=value,
            type="float" if key == "accuracy" else "str",
            project=world["project"],
            user=world["user"],
        )
    assert names(alice_client.get("/runs/?metadata=accuracy%3D0.9")) == ["run-1"]
    assert names(alice_client.get("/runs/?metadata=accuracy%3D0.8")) == []
    for raw in ("1e999", "NaN"):
        response = alice_client.get(f"/runs/?metadata=note%3D{raw}")
        assert response.status_code == 200 and names(response) == (["run-1"] if raw == "1e999" else [])
