"""Extended statistics on (tenant_id, project_id) of the largest tables (PostgreSQL only).

A project belongs to one tenant, but the planner multiplies the two conditions' selectivities as
if they were independent: for a tenant with 100,000 of 1,100,000 runs it estimated 8,340 rows.
API page totals above 10,000 rows are the planner's estimate (core/api/pagination.py), so that
showed as 10,001. With these statistics the estimate is 105,403 (bench/RESULTS.md)."""

from django.db import migrations

TABLES = ("mlmeta_pipelinerun", "mlmeta_steprun", "mlmeta_artifactversion")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"CREATE STATISTICS IF NOT EXISTS {table}_tenant_project (dependencies, ndistinct) "
            f"ON tenant_id, project_id FROM {table}"
        )
        schema_editor.execute(f"ANALYZE {table}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {table}_tenant_project")


class Migration(migrations.Migration):
    dependencies = [("mlmeta", "0009_run_duration")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
