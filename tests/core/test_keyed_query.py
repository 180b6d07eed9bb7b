"""core.rawsql.KeyedQuery: an ORM query compiled once, run with a list of keys as one parameter,
must return what the same ORM query returns, on SQLite and on PostgreSQL."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core.rawsql import KeyedQuery, together
from mlmeta.models import Logs, PipelineRun, PipelineSnapshot, RunMetadata, StepRun
from tests.factories import populate


@pytest.fixture
def world(tenant_a, alice):
    return populate(tenant_a, alice)


def snapshots_query():
    return KeyedQuery(
        lambda ids: (
            PipelineSnapshot.objects.filter(pk__in=ids)
            .select_related("pipeline", "build", "code_reference__code_repository")
            .defer("step_configurations")
        )
    )


def test_objects_are_the_orm_rows_with_their_relations(world):
    snapshot = world[PipelineSnapshot]
    query = snapshots_query()
    found = query.objects([snapshot.pk])
    assert [row.pk for row in found] == [snapshot.pk]
    row = found[0]
    assert row.pipeline_configuration == snapshot.pipeline_configuration  # JSON converted
    assert row.created == snapshot.created  # aware datetime
    with CaptureQueriesContext(connection) as ctx:  # select_related rows came along
        assert row.pipeline.name == snapshot.pipeline.name
        assert row.build.images == {"img": "x"}
        assert row.code_reference.code_repository.name == snapshot.code_reference.code_repository.name
    assert len(ctx.captured_queries) == 0
    assert "step_configurations" in row.get_deferred_fields()


def test_the_statement_is_the_same_for_any_number_of_keys(world):
    query = KeyedQuery(lambda ids: PipelineRun.objects.filter(pk__in=ids).order_by("created"))
    run = world[PipelineRun]
    other = PipelineRun.objects.create(name="second", snapshot=run.snapshot, project=run.project, user=run.user)
    statements = []
    for keys in ([run.pk], [run.pk, other.pk], [other.pk, run.pk, run.pk]):
        with CaptureQueriesContext(connection) as ctx:
            found = query.objects(keys)
        statements.append(ctx.captured_queries[0]["sql"].split(" WHERE ")[0])
        assert [r.pk for r in found] == [r.pk for r in PipelineRun.objects.filter(pk__in=keys).order_by("created")]
    assert len(set(statements)) == 1
    assert "IN (%s" not in ctx.captured_queries[0]["sql"]


def test_no_keys_no_query(world):
    query = KeyedQuery(lambda ids: Logs.objects.filter(step_run__in=ids))
    with CaptureQueriesContext(connection) as ctx:
        assert query.objects([]) == [] and query.rows([]) == []
    assert ctx.captured_queries == []


def test_rows_of_a_values_list_query_are_converted(world):
    query = KeyedQuery(
        lambda ids: RunMetadata.objects.filter(resource_id__in=ids).values_list("resource_id", "key", "value")
    )
    run = world[PipelineRun]
    assert query.rows([run.pk]) == [(run.pk, f"{world.tenant.slug}-accuracy", 0.93)]


def test_filters_around_the_keys_keep_their_parameters(world):
    step = world[StepRun]
    query = KeyedQuery(lambda ids: Logs.objects.filter(source="step", step_run__in=ids, uri__startswith="/store"))
    assert [logs.step_run_id for logs in query.objects([step.pk])] == [step.pk]
    other = KeyedQuery(lambda ids: Logs.objects.filter(source="nope", step_run__in=ids))
    assert other.objects([step.pk]) == []


def test_a_query_without_one_key_list_is_refused(world):
    with pytest.raises(ValueError, match="one `__in` list"):
        KeyedQuery(lambda ids: Logs.objects.filter(source="step")).objects([world[StepRun].pk])


def test_queries_sent_together_return_what_each_returns_alone(world):
    snapshot, run = world[PipelineSnapshot], world[PipelineRun]
    metadata = KeyedQuery(
        lambda ids: RunMetadata.objects.filter(resource_id__in=ids).values_list("resource_id", "key", "value")
    )
    with CaptureQueriesContext(connection) as ctx, together():
        if connection.vendor == "postgresql":  # sent at once: psycopg's pipeline mode
            assert connection.connection.pgconn.pipeline_status != 0
        snapshots, values = snapshots_query().send([snapshot.pk]), metadata.send([run.pk])
        nothing = metadata.send([])
    assert len(ctx.captured_queries) == 2
    assert [row.pk for row in snapshots.objects()] == [snapshot.pk]
    assert values.rows() == metadata.rows([run.pk]) == [(run.pk, f"{world.tenant.slug}-accuracy", 0.93)]
    assert nothing.rows() == nothing.objects() == []


def test_an_error_in_a_query_sent_together_is_raised(world):
    runs = KeyedQuery(lambda ids: PipelineRun.objects.filter(pk__in=ids))
    broken = KeyedQuery(lambda ids: PipelineRun.objects.filter(pk__in=ids))
    compiled = broken._compile(broken.build([KeyedQuery.SENTINEL]), connection)
    compiled["sql"] = compiled["sql"].replace('"name"', '"no_such_column"')
    with pytest.raises(DatabaseError, match="no_such_column"), transaction.atomic(), together():
        runs.send([world[PipelineRun].pk])
        broken.send([world[PipelineRun].pk])
    assert [r.pk for r in runs.objects([world[PipelineRun].pk])] == [world[PipelineRun].pk]
