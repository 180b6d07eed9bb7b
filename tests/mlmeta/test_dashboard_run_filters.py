"""The runs list's FilterSet (mlmeta.run_filters): bad input is a form error naming the field,
never a 500, and the valid filters of the same request still apply."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mlmeta.choices import ExecutionStatus, MetadataResourceType
from mlmeta.models import PipelineRun, RunMetadata
from tenants.models import Project
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
        ("metadata_value=0.9", "metadata_key"),
        ("metadata_key=accuracy", "metadata_value"),
        ("metadata_key=accuracy&metadata_op=greater&metadata_value=1", "metadata_op"),
        ("metadata_key=note&metadata_op=isnull&metadata_value=x", "metadata_value"),
        ("metadata_key=branch&metadata_op=oneof&metadata_value=main", "metadata_value"),
        ("metadata_key=" + "m" * 256 + "&metadata_value=1", "metadata_key"),
        ("metadata_key=m&metadata_value=" + "m" * 501, "metadata_value"),
        ("sort=-metadata", "sort_key"),
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
    assert names(alice_client.get("/runs/?metadata_key=accuracy&metadata_value=0.9")) == ["run-1"]
    assert names(alice_client.get("/runs/?metadata_key=accuracy&metadata_value=0.8")) == []
    for raw in ("1e999", "NaN"):
        response = alice_client.get(f"/runs/?metadata_key=note&metadata_value={raw}")
        assert response.status_code == 200 and names(response) == (["run-1"] if raw == "1e999" else [])


def log_metadata(world, run, **values):  # noqa: F811
    for key, value in values.items():
        RunMetadata.objects.create(
            resource_type=MetadataResourceType.PIPELINE_RUN,
            resource_id=run.pk,
            key=key,
            value=value,
            type=type(value).__name__,
            project=world["project"],
            user=world["user"],
        )


def test_metadata_filter_by_operator_and_sort_by_metadata_key(alice_client, world):  # noqa: F811
    made = {}
    for i, (name, accuracy, branch) in enumerate(
        [("r-low", 0.8, "dev"), ("r-high", 0.95, "main"), ("r-mid", 0.9, "feature/x"), ("r-none", None, "main")]
    ):
        made[name] = make_run(world, name, created=timezone.now() - timedelta(minutes=10 - i))
        log_metadata(world, made[name], branch=branch, **({"accuracy": accuracy} if accuracy is not None else {}))

    def listed(query):
        response = alice_client.get("/runs/?" + query)
        assert response.status_code == 200 and not response.context["form"].errors
        return [run.name for run in response.context["runs"]]

    assert sorted(listed("metadata_key=accuracy&metadata_op=gt&metadata_value=0.85")) == ["r-high", "r-mid"]
    assert sorted(listed("metadata_key=branch&metadata_op=startswith&metadata_value=FEAT")) == ["r-mid"]
    assert sorted(listed('metadata_key=branch&metadata_op=oneof&metadata_value=["dev", "main"]')) == [
        "r-high",
        "r-low",
        "r-none",
    ]
    assert listed("metadata_key=accuracy&metadata_op=isnotnull&sort=-metadata&sort_key=accuracy") == [
        "r-high",
        "r-mid",
        "r-low",
    ]
    assert listed("sort=metadata&sort_key=accuracy") == ["r-low", "r-mid", "r-high", "r-none"]
    assert listed("sort=-metadata&sort_key=accuracy") == ["r-high", "r-mid", "r-low", "r-none"]


def test_runs_page_renders_the_metadata_fields_without_inline_script_or_style(alice_client, world):  # noqa: F811
    make_run(world, "run-1")
    html = alice_client.get("/runs/?sort=-metadata&sort_key=accuracy").content.decode()
    for name in ("metadata_key", "metadata_op", "metadata_value", "sort_key"):
        assert f'name="{name}"' in html
    assert 'value="-metadata" selected' in html and "style=" not in html and "<script>" not in html


def test_metadata_sort_pages_through_every_run_once(alice_client, world):  # noqa: F811
    """The sort reads only the rows up to the shown page (`window`), yet the page count is of the
    whole list and the pages together show each run once: numbered runs by value, then the rest."""
    for i in range(40):
        run = make_run(world, f"r{i:02}", created=timezone.now() - timedelta(minutes=60 - i))
        if i % 4:
            log_metadata(world, run, accuracy=i / 100)
    shown = []
    for page in (1, 2):
        response = alice_client.get(f"/runs/?sort=-metadata&sort_key=accuracy&page={page}")
        assert response.status_code == 200 and response.context["page"].paginator.num_pages == 2
        shown += [run.name for run in response.context["runs"]]
    numbered = [f"r{i:02}" for i in range(39, 0, -1) if i % 4]
    assert shown == numbered + [f"r{i:02}" for i in range(0, 40, 4)]
    past_the_end = alice_client.get("/runs/?sort=-metadata&sort_key=accuracy&page=9")
    assert [run.name for run in past_the_end.context["runs"]] == shown[25:]


def test_a_metadata_condition_counts_the_runs_it_shows(alice_client, world, other):  # noqa: F811
    """The paginator counts the matching metadata rows among the runs the other filters select
    (matches_among): the same runs, never one named by another tenant's row."""
    for i in range(40):
        status = ExecutionStatus.FAILED if i % 3 == 0 else ExecutionStatus.COMPLETED
        run = make_run(world, f"r{i:02}", status=status, created=timezone.now() - timedelta(minutes=60 - i))
        if i % 4:
            log_metadata(world, run, accuracy=i / 100)
    RunMetadata.objects.create(
        project=Project.objects.get(tenant=other, name="default"),
        resource_type=MetadataResourceType.PIPELINE_RUN,
        resource_id=run.pk,  # r39, whose own accuracy is 0.39
        key="score",
        value=1.0,
        type="float",
    )
    response = alice_client.get(
        "/runs/?metadata_key=accuracy&metadata_op=gt&metadata_value=0.1&sort=-metadata&sort_key=accuracy"
    )
    expected = [f"r{i:02}" for i in range(39, 10, -1) if i % 4]
    assert response.context["page"].paginator.count == len(expected) == 22
    assert [run.name for run in response.context["runs"]] == expected
    response = alice_client.get("/runs/?metadata_key=accuracy&metadata_op=lte&metadata_value=0.3")
    assert response.context["page"].paginator.count == 23 and len(response.context["runs"]) == 23
    assert alice_client.get("/runs/?metadata_key=score&metadata_value=1").context["page"].paginator.count == 0
    response = alice_client.get("/runs/?status=failed&metadata_key=accuracy&metadata_op=gt&metadata_value=0.1")
    expected = [f"r{i:02}" for i in range(39, 10, -1) if i % 4 and i % 3 == 0]
    assert response.context["page"].paginator.count == len(expected) == 7
    assert names(response) == sorted(expected)
