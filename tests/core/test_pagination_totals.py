"""Totals above EXACT_COUNT_LIMIT are the planner's estimate; pages must stay walkable by the client.

The ZenML client (`zenml.utils.pagination_utils.depaginate`) asks for page index + 1 while
`index < total_pages`, so every page with a next page must report `total_pages > index`, and the
page that ends the list `total_pages == index` with the exact total.
"""

import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.api import pagination
from tenants import access
from tenants.models import User

FLAVORS = 82  # the built-in flavors every tenant lists (tests/core/test_api_conventions.py)


def walk(api, size):
    """What depaginate does; returns the pages it saw."""
    pages = [api.get(f"/api/v1/flavors?sort_by=name&page=1&size={size}").json()]
    while pages[-1]["index"] < pages[-1]["total_pages"]:
        response = api.get(f"/api/v1/flavors?sort_by=name&page={pages[-1]['index'] + 1}&size={size}")
        assert response.status_code == 200, response.content
        pages.append(response.json())
        assert len(pages) < 100
    return pages


def assert_walk_is_complete(pages, size):
    names = [item["id"] for page in pages for item in page["items"]]
    assert len(names) == len(set(names)) == FLAVORS
    for page in pages:
        assert page["max_size"] == size
        assert page["total_pages"] == max(1, math.ceil(page["total"] / size))
    assert pages[-1]["total"] == FLAVORS and pages[-1]["index"] == pages[-1]["total_pages"]


@pytest.fixture
def admin(tenant):
    user = User.objects.create_user("admin", is_superuser=True)
    access.add_member(tenant, user)
    return user


@pytest.fixture
def estimated(monkeypatch):
    """Pretend the database estimates (as PostgreSQL does) with a given, possibly wrong, figure."""

    def use(estimate):
        monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 10)
        monkeypatch.setattr(pagination, "can_estimate", lambda queryset: True)
        monkeypatch.setattr(pagination, "planner_estimate", lambda queryset: estimate)

    return use


@pytest.mark.parametrize("estimate", [11, 60, 82, 100, 5000])
def test_estimated_totals_still_walk_every_row_and_end_on_the_last_page(api, estimated, estimate):
    estimated(estimate)
    pages = walk(api, 5)
    assert_walk_is_complete(pages, 5)
    first = pages[0]
    assert first["total"] == max(estimate, 11) and first["total_pages"] >= 2


def test_without_a_planner_a_long_list_reports_at_least_the_limit(api, monkeypatch):
    """SQLite has no estimate: above the limit the total is the limit + 1, and pages still walk."""
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 10)
    monkeypatch.setattr(pagination, "can_estimate", lambda queryset: False)
    monkeypatch.setattr(pagination, "planner_estimate", lambda queryset: pytest.fail("estimated"))
    pages = walk(api, 5)
    assert_walk_is_complete(pages, 5)
    assert (pages[0]["total"], pages[0]["total_pages"]) == (11, 3)
    assert (pages[3]["total"], pages[3]["total_pages"]) == (21, 5)  # at least one page after it
    assert api.get("/api/v1/flavors?page=2&size=50").json()["total"] == FLAVORS  # the end: exact


def test_a_page_past_the_real_end_is_a_400_with_the_exact_total(api, estimated):
    estimated(5000)  # promises 1,000 pages of 5
    assert api.get("/api/v1/flavors?page=17&size=5").json()["total"] == FLAVORS  # the real last page
    response = api.get("/api/v1/flavors?page=400&size=5")
    assert response.status_code == 400
    assert "a total of 82 items" in response.json()["detail"][1]
    assert "maximum page value therefore is 17" in response.json()["detail"][1]


def test_under_the_limit_the_total_is_exact_and_no_estimate_is_asked(api, monkeypatch):
    monkeypatch.setattr(pagination, "can_estimate", lambda queryset: True)
    monkeypatch.setattr(pagination, "planner_estimate", lambda queryset: pytest.fail("estimated"))
    page = api.get("/api/v1/flavors?page=2&size=5").json()
    assert (page["index"], page["total"], page["total_pages"], len(page["items"])) == (2, FLAVORS, 17, 5)
    assert api.get("/api/v1/flavors?page=18&size=5").status_code == 400


def test_a_page_that_ends_the_list_is_not_counted(api):
    def counts(url):
        with CaptureQueriesContext(connection) as queries:
            page = api.get(url).json()
        return page, sum("COUNT(" in query["sql"] for query in queries.captured_queries)

    page, counted = counts("/api/v1/flavors?page=1&size=100")
    assert (page["total"], page["total_pages"], len(page["items"]), counted) == (FLAVORS, 1, FLAVORS, 0)
    page, counted = counts("/api/v1/flavors?page=17&size=5")  # the last page, 2 rows
    assert (page["total"], page["total_pages"], len(page["items"]), counted) == (FLAVORS, 17, 2, 0)
    page, counted = counts("/api/v1/flavors?page=2&size=41")  # exactly full, nothing after it
    assert (page["total"], page["total_pages"], len(page["items"]), counted) == (FLAVORS, 2, 41, 0)
    page, counted = counts("/api/v1/flavors?page=1&size=5")  # more pages follow: counted
    assert (page["total"], page["total_pages"], counted) == (FLAVORS, 17, 1)
    assert counts("/api/v1/flavors?page=1&size=5&name=nothing-by-this-name")[0]["total"] == 0


@pytest.mark.postgres
def test_postgres_planner_estimate_pages_stay_walkable(api, monkeypatch):
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 10)
    first = api.get("/api/v1/flavors?sort_by=name&page=1&size=5").json()
    assert first["total"] >= 11 and first["total_pages"] >= 2  # an estimate, at least the limit + 1
    assert_walk_is_complete(walk(api, 5), 5)


@pytest.mark.postgres
def test_postgres_knows_a_project_lies_in_one_tenant(db):
    """Extended statistics (mlmeta 0010), so the planner does not multiply the tenant's and the
    project's selectivity into an estimate far below the real page total."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT stxname, stxkind FROM pg_statistic_ext WHERE stxname LIKE '%%_tenant_project'")
        kinds = dict(cursor.fetchall())
    assert set(kinds) == {
        f"{table}_tenant_project" for table in ("mlmeta_pipelinerun", "mlmeta_steprun", "mlmeta_artifactversion")
    }
    assert all(set(kind) == {"d", "f"} for kind in kinds.values())  # ndistinct, dependencies


@pytest.mark.parametrize("estimates", [True, False])
def test_with_or_without_an_estimate_the_exact_count_stops_at_1000(api, monkeypatch, estimates):
    """Both databases count up to 1,000 rows: above that PostgreSQL estimates, SQLite reports the
    floor. Counting further would cost more than the page (15 ms for 10,001 metadata matches on
    SQLite, bench/RESULTS.md)."""
    monkeypatch.setattr(pagination, "can_estimate", lambda queryset: estimates)
    monkeypatch.setattr(pagination, "planner_estimate", lambda queryset: pytest.fail("estimated"))
    with CaptureQueriesContext(connection) as queries:
        page = api.get("/api/v1/flavors?page=1&size=5").json()
    assert page["total"] == FLAVORS
    counts = [query["sql"] for query in queries.captured_queries if "COUNT(" in query["sql"]]
    assert len(counts) == 1 and counts[0].endswith("LIMIT 1001) subquery")
