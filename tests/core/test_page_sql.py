"""core.rawsql.fetch and count: a list page's SQL kept per shape, only its WHERE compiled per
request, must return what Django returns for the same queryset, for every tenant and filter, on
SQLite and on PostgreSQL."""

import json

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from core import rawsql
from core.rawsql import count, fetch
from mlmeta.models import Pipeline, PipelineRun, StepRun
from tests.factories import populate


@pytest.fixture
def worlds(tenant_a, alice, tenant_b, charlie):
    rawsql._pages.clear()
    a, b = populate(tenant_a, alice), populate(tenant_b, charlie)
    for world in (a, b):
        run = world[PipelineRun]
        for i in range(4):
            PipelineRun.objects.create(
                name=f"{world.tenant.slug}-extra-{i}", snapshot=run.snapshot, project=run.project, user=run.user
            )
    return a, b


def runs_of(tenant):
    return PipelineRun.objects.filter(tenant=tenant).order_by("-created", "-id")


def test_a_page_is_what_django_returns(worlds):
    a, _ = worlds
    for queryset in (
        runs_of(a.tenant)[:3],
        runs_of(a.tenant)[2:4],
        runs_of(a.tenant)[4:],
        runs_of(a.tenant).select_related("user", "snapshot__pipeline")[:10],
        runs_of(a.tenant).defer("trigger_info", "client_environment")[:10],
        runs_of(a.tenant).prefetch_related("steps")[:10],
        runs_of(a.tenant).filter(name__contains="extra", status__in=["initializing", "completed"])[:10],
    ):
        expected = list(queryset)
        found = fetch(queryset)
        assert [r.pk for r in found] == [r.pk for r in expected]
        assert [(r.name, r.created, r.snapshot_id) for r in found] == [
            (r.name, r.created, r.snapshot_id) for r in expected
        ]
        assert found[0].get_deferred_fields() == expected[0].get_deferred_fields()


def test_the_relations_a_page_selects_come_along(worlds):
    a, _ = worlds
    found = fetch(runs_of(a.tenant).select_related("user", "snapshot__pipeline")[:10])
    with CaptureQueriesContext(connection) as ctx:
        assert {(r.user.username, r.snapshot.pipeline.name) for r in found} == {(a.member.username, a[Pipeline].name)}
    assert ctx.captured_queries == []


def test_one_shape_serves_every_tenant_and_value_with_their_own_rows(worlds):
    a, b = worlds
    for world in (a, b, a):
        found = fetch(runs_of(world.tenant)[:20])
        assert found and {r.tenant_id for r in found} == {world.tenant.pk}
        assert [r.pk for r in found] == [r.pk for r in runs_of(world.tenant)[:20]]
    for page in ((0, 2), (2, 4), (4, 6)):  # slices are not part of the shape
        assert [r.pk for r in fetch(runs_of(b.tenant)[slice(*page)])] == [r.pk for r in runs_of(b.tenant)[slice(*page)]]
    for name in ("alpha-extra-1", "beta-extra-1", "nothing"):
        queryset = runs_of(a.tenant).filter(name=name)[:20]
        assert [r.pk for r in fetch(queryset)] == [r.pk for r in queryset]
    assert len(rawsql._pages) == 2  # without and with the name filter


def test_the_statement_is_django_s_own(worlds):
    a, _ = worlds
    queryset = runs_of(a.tenant).filter(name__startswith="alpha")[5:7]
    fetch(queryset)  # the shape is kept
    with CaptureQueriesContext(connection) as ctx:
        fetch(queryset)
    with CaptureQueriesContext(connection) as django:
        list(queryset)
    assert [q["sql"] for q in ctx.captured_queries] == [q["sql"] for q in django.captured_queries]


def test_what_matches_nothing_or_everything_is_answered_as_django_does(worlds):
    a, _ = worlds
    with CaptureQueriesContext(connection) as ctx:
        assert fetch(runs_of(a.tenant).filter(pk__in=[])[:20]) == []
        assert count(PipelineRun.objects.filter(pk__in=[])) == 0
    assert ctx.captured_queries == []
    everything = PipelineRun.objects.order_by("created", "id")
    assert [r.pk for r in fetch(everything[:50])] == [r.pk for r in everything[:50]]
    assert count(PipelineRun.objects.all()) == PipelineRun.objects.count()


def test_what_it_does_not_follow_is_run_by_django(worlds):
    a, _ = worlds
    annotated = StepRun.objects.filter(tenant=a.tenant).annotate(run_snapshot_id=F("pipeline_run__snapshot_id"))
    found = fetch(annotated.order_by("created")[:5])
    assert [s.run_snapshot_id for s in found] == [a[PipelineRun].snapshot_id]
    assert [r["name"] for r in fetch(runs_of(a.tenant).values("name")[:2])] == [
        r["name"] for r in runs_of(a.tenant).values("name")[:2]
    ]
    assert rawsql._pages == {}


def test_counts_are_django_s(worlds):
    a, b = worlds
    for tenant in (a.tenant, b.tenant):
        queryset = PipelineRun.objects.filter(tenant=tenant)
        assert count(queryset) == queryset.count() == 5
        assert count(queryset, 3) == 3
        assert count(queryset.filter(name__contains="extra"), 10) == 4
        joined = PipelineRun.objects.filter(tenant=tenant, snapshot__pipeline__name__endswith="training")
        assert count(joined) == joined.count() == 5
    distinct = PipelineRun.objects.filter(steps__tenant=a.tenant).distinct()
    assert count(distinct) == distinct.count()


@pytest.mark.postgres
def test_estimates_are_the_planner_s_for_django_s_query(worlds):
    a, _ = worlds
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE mlmeta_pipelinerun")
    for queryset in (
        PipelineRun.objects.filter(tenant=a.tenant),
        PipelineRun.objects.filter(tenant=a.tenant, name__contains="extra"),
        PipelineRun.objects.filter(tenant=a.tenant, snapshot__pipeline__name__endswith="training"),
        PipelineRun.objects.filter(steps__tenant=a.tenant).distinct(),  # compiled by Django
    ):
        plan = queryset.order_by().explain(format="json")
        plan = json.loads(plan) if isinstance(plan, str) else plan
        assert rawsql.estimate(queryset) == int(plan[0]["Plan"]["Plan Rows"])
    assert rawsql.estimate(PipelineRun.objects.filter(pk__in=[])) == 0
