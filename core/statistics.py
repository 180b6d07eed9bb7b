"""The query planner's statistics, kept fresh whatever the database's own settings.

Without them both databases plan badly as tables grow: a SQLite store never analyzed reads the
steps of one run through the project's index (300 ms at 100,000 runs, 0.1 ms analyzed), and a
PostgreSQL with autovacuum off (as on the bench machine) filtered 1,000 runs by a metadata value in
1 s instead of 20 ms (bench/RESULTS.md). `refresh(force=False)` runs every ten minutes from beat.
"""

from django.db import connection

# PostgreSQL's autovacuum rule: re-analyze a table once this many rows plus this share changed.
ANALYZE_THRESHOLD = 50
ANALYZE_SCALE = 0.1


def refresh(force: bool = True) -> list[str]:
    """Bring the statistics up to date; the tables analyzed ("*" for all of them).

    SQLite: `ANALYZE` with `analysis_limit` (each index sampled, not read whole: well under a
    second on a 1 GB store). PostgreSQL: with `force`, the whole database (`VACUUM ANALYZE` outside a
    transaction, which also makes counts index-only); otherwise only the tables that changed as much
    as autovacuum would wait for, so it costs nothing where autovacuum runs. Where autovacuum is
    off, those tables are vacuumed too (outside a transaction), as autovacuum would have: without it
    no page is marked all-visible, and every index-only scan (a page's total, a count of runs
    matching a metadata filter) reads the table as well.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit=1000")
            cursor.execute("ANALYZE")
            return ["*"]
        if connection.vendor != "postgresql":
            return []
        if force:
            cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")
            return ["*"]
        cursor.execute(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(relname) FROM pg_stat_user_tables "
            "WHERE n_mod_since_analyze > %s + %s * n_live_tup",
            [ANALYZE_THRESHOLD, ANALYZE_SCALE],
        )
        stale = [name for (name,) in cursor.fetchall()]
        cursor.execute("SHOW autovacuum")
        command = "VACUUM ANALYZE" if cursor.fetchone()[0] == "off" and not connection.in_atomic_block else "ANALYZE"
        for name in stale:
            cursor.execute(f"{command} {name}")  # a name quoted by quote_ident
        return stale
