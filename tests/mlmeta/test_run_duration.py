"""A run's stored duration (end_time - start_time, a generated column): kept by every way a run
ends (client status, steps, stop, queryset updates, bulk inserts), empty while it runs, indexed
with the tenant first and used by the runs list's duration sort."""

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from mlmeta.choices import ExecutionStatus
from mlmeta.models import PipelineRun
from tests.mlmeta.test_dashboard_runs import make_run, store_root, world  # noqa: F401  (fixtures)


def fresh(run):
    return PipelineRun.objects.get(pk=run.pk).duration


def running(world, name, minutes):  # noqa: F811
    start = timezone.now() - timedelta(minutes=minutes)
    return PipelineRun.objects.create(
        name=name, project=world["project"], user=world["user"], status=ExecutionStatus.RUNNING, start_time=start
    )


def test_duration_is_empty_while_running_and_set_when_the_client_ends_the_run(world):  # noqa: F811
    run = running(world, "r1", minutes=3)
    assert fresh(run) is None
    run.update_status(ExecutionStatus.COMPLETED, end_time=run.start_time + timedelta(seconds=90))
    assert fresh(run) == timedelta(seconds=90)


def test_duration_is_set_by_a_stop_and_by_queryset_updates(world):  # noqa: F811
    stopped = running(world, "r1", minutes=2)
    stopped.request_stop(graceful=False)
    assert timedelta(minutes=2) <= fresh(stopped) < timedelta(minutes=3)
    failed = running(world, "r2", minutes=1)
    PipelineRun.objects.filter(pk=failed.pk).update(status=ExecutionStatus.FAILED, end_time=failed.start_time)
    assert fresh(failed) == timedelta(0)


def test_duration_of_bulk_inserted_runs(world):  # noqa: F811
    start = timezone.now()
    PipelineRun.objects.bulk_create(
        [
            PipelineRun(
                name=f"bulk-{i}",
                project=world["project"],
                tenant=world["project"].tenant,
                user=world["user"],
                start_time=start,
                end_time=start + timedelta(seconds=i),
            )
            for i in range(3)
        ]
    )
    durations = PipelineRun.objects.filter(name__startswith="bulk-").order_by("name").values_list("duration", flat=True)
    assert list(durations) == [timedelta(seconds=i) for i in range(3)]


def test_duration_sorts_are_reverses_with_unfinished_runs_as_longest(alice_client, world):  # noqa: F811
    make_run(world, "short", minutes=1)
    make_run(world, "long", minutes=9)
    running(world, "live", minutes=30)
    longest = [r.name for r in alice_client.get("/runs/?sort=-duration").context["runs"]]
    shortest = [r.name for r in alice_client.get("/runs/?sort=duration").context["runs"]]
    assert longest == ["live", "long", "short"] and shortest == ["short", "long", "live"]


def test_duration_indexes_lead_with_the_tenant(db):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, PipelineRun._meta.db_table)
    assert constraints["run_tenant_duration"]["index"] and constraints["run_project_duration"]["index"]
