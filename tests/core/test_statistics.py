"""core.statistics: the planner's statistics are refreshed for the tables that changed, whatever
the database's own settings (the bench machine's PostgreSQL runs without autovacuum)."""

import pytest
from django.conf import settings
from django.db import connection

from core import statistics
from core.tasks import refresh_statistics
from mlmeta.models import Tag


def vacuumed_tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL")
        return {name for (name,) in cursor.fetchall()}


def autovacuum() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        return cursor.fetchone()[0] == "on"


def analyzed_tables() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT DISTINCT tbl FROM sqlite_stat1")
        else:
            cursor.execute("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_a_table_that_changed_is_analyzed_by_the_beat_task(tenant_a):
    Tag.objects.bulk_create(Tag(tenant=tenant_a, name=f"tag-{i}") for i in range(300))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")
    refreshed = refresh_statistics.apply().get()
    assert Tag._meta.db_table in analyzed_tables()
    if connection.vendor == "postgresql":  # only what changed, not the whole database
        assert f"public.{Tag._meta.db_table}" in refreshed and "public.django_session" not in refreshed
        assert statistics.refresh(force=False) == []  # nothing changed since
        # Vacuumed as well where autovacuum would not (as on this machine), else left to it.
        assert (Tag._meta.db_table in vacuumed_tables()) is not autovacuum()
    else:
        assert refreshed == ["*"]


def test_beat_refreshes_statistics_every_ten_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["refresh-statistics"]
    assert entry == {"task": "core.refresh_statistics", "schedule": 600.0}
