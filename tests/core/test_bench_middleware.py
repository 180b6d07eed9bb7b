"""The bench-only query counter (core/bench.py): off by default, and when on it counts the
statements a request really runs."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.bench import HEADER


def test_off_by_default(client, db):
    assert HEADER not in client.get("/ready")


def test_counts_the_queries_of_a_request(client, db, settings):
    settings.MIDDLEWARE = ["core.bench.QueryCountMiddleware", *settings.MIDDLEWARE]
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/ready")
    assert response.status_code == 200
    assert int(response[HEADER]) == len(queries) > 0
