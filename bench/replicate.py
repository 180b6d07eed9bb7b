"""Grow a seeded server's database to a larger scale by copying its seeded runs in SQL (`make bench --scales`).

Seeding 100,000 runs over ZenML's API would take hours, so bench/compare.py seeds the first scale
over the API and then copies those runs, inside the server's own database, with
`INSERT ... SELECT` joined to a numbers table: every copy gets new ids, a unique name, index and
artifact version numbers, and older timestamps, and every row the measured pages read comes along
(steps, their parents, inputs and outputs, artifact versions and their visualizations, run
metadata and its links, tag links). The running server sees the copies on its next request.

Ids: ZenML keeps UUIDs as CHAR(32) hex on SQLite and MySQL, MLMeta as CHAR(32) hex on SQLite and
native uuid on PostgreSQL. Copy k of an id replaces its first 8 hex digits with k in hex, so the
copy of every row of one run under k is known without a lookup table, and ids stay unique (the
other 24 digits of two different random ids do not collide).

Rows to copy are found through `bench_obj(id, ord)`: every seeded run, step, artifact version and
run metadata row with the ordinal of its run (1..n). A batch copies `bench_k(k)` rounds; round k,
ordinal o is local copy number g = (k - k0) * n + o, and copies stop at g = the runs still missing.
"""

# All SQL here is made of the constants above, column names read from the schema and integers.
# ruff: noqa: S608

import datetime
import sqlite3
import subprocess
import time
from dataclasses import dataclass

# What a copy needs, per server kind: the tables in insert order (parents before children), the
# column by which a row belongs to a seeded object (in bench_obj), and the id columns that point
# at copied rows (mapped to the copy's id). Every other column is copied as is unless overridden.
TABLES = {
    "zenml": [
        ("pipeline_run", "id", ("id", "original_run_id", "parent_run_id", "root_run_id")),
        ("step_run", "pipeline_run_id", ("id", "pipeline_run_id", "original_step_run_id")),
        ("step_run_parents", "child_id", ("parent_id", "child_id")),
        ("artifact_version", "id", ("id",)),
        ("artifact_visualization", "artifact_version_id", ("id", "artifact_version_id")),
        ("step_run_output_artifact", "step_id", ("step_id", "artifact_id")),
        ("step_run_input_artifact", "step_id", ("step_id", "artifact_id")),
        ("run_metadata", "id", ("id", "publisher_step_id")),
        ("run_metadata_resource", "run_metadata_id", ("id", "resource_id", "run_metadata_id")),
        ("tag_resource", "resource_id", ("id", "resource_id")),
    ],
    "mlmeta": [
        ("mlmeta_pipelinerun", "id", ("id", "original_run_id", "parent_run_id", "root_run_id")),
        ("mlmeta_steprun", "pipeline_run_id", ("id", "pipeline_run_id", "original_step_run_id")),
        ("mlmeta_steprun_parents", "from_steprun_id", ("from_steprun_id", "to_steprun_id")),
        ("mlmeta_artifactversion", "id", ("id",)),
        ("mlmeta_artifactvisualization", "artifact_version_id", ("id", "artifact_version_id")),
        ("mlmeta_steprunoutput", "step_run_id", ("id", "step_run_id", "artifact_version_id")),
        ("mlmeta_stepruninput", "step_run_id", ("id", "step_run_id", "artifact_version_id")),
        ("mlmeta_runmetadata", "id", ("id", "resource_id", "publisher_step_id")),
        ("mlmeta_tagresource", "resource_id", ("id", "resource_id")),
    ],
}
RUNS = {"zenml": "pipeline_run", "mlmeta": "mlmeta_pipelinerun"}
VERSIONS = {"zenml": "artifact_version", "mlmeta": "mlmeta_artifactversion"}
# bench_obj beyond the runs: steps of a seeded run, artifact versions its steps made, metadata on any of them.
OBJECTS = {
    "zenml": [
        "SELECT x.id, s.ord FROM step_run x JOIN bench_obj s ON s.id = x.pipeline_run_id",
        "SELECT o.artifact_id, s.ord FROM step_run_output_artifact o JOIN step_run x ON x.id = o.step_id"
        " JOIN bench_obj s ON s.id = x.pipeline_run_id",
        "SELECT DISTINCT r.run_metadata_id, s.ord FROM run_metadata_resource r"
        " JOIN bench_obj s ON s.id = r.resource_id",
    ],
    "mlmeta": [
        "SELECT x.id, s.ord FROM mlmeta_steprun x JOIN bench_obj s ON s.id = x.pipeline_run_id",
        "SELECT o.artifact_version_id, s.ord FROM mlmeta_steprunoutput o JOIN mlmeta_steprun x ON x.id = o.step_run_id"
        " JOIN bench_obj s ON s.id = x.pipeline_run_id",
        "SELECT m.id, s.ord FROM mlmeta_runmetadata m JOIN bench_obj s ON s.id = m.resource_id",
    ],
}
# The counters new rows take their numbers from, brought up to the copies' numbers.
COUNTERS = {
    "zenml": [("pipeline", "run_count", "pipeline_run", "index", "pipeline_id")],
    "mlmeta": [
        ("mlmeta_pipeline", "run_counter", "mlmeta_pipelinerun", "index", "pipeline_id"),
        ("mlmeta_artifact", "version_counter", "mlmeta_artifactversion", "version_number", "artifact_id"),
    ],
}
SHIFTED = ("created", "updated", "start_time", "end_time")


def _timestamp_diff(lhs, rhs):
    """Django's django_timestamp_diff for SQLite (MLMeta's generated `duration`), in microseconds."""
    if lhs is None or rhs is None:
        return None
    delta = datetime.datetime.fromisoformat(lhs) - datetime.datetime.fromisoformat(rhs)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


class Database:
    """SQL on the server's own database: sqlite3, PyMySQL, or psql for PostgreSQL."""

    def __init__(self, dialect: str, *, path=None, mysql: dict | None = None, dsn: str | None = None):
        self.dialect, self.path, self.mysql, self.dsn = dialect, path, mysql, dsn
        self.conn = None
        if dialect == "sqlite":
            self.conn = sqlite3.connect(path, timeout=300, isolation_level=None)
            self.conn.create_function("django_timestamp_diff", 2, _timestamp_diff, deterministic=True)
        elif dialect == "mysql":
            import pymysql

            self.conn = pymysql.connect(**mysql, autocommit=False)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def q(self, name: str) -> str:
        return f"`{name}`" if self.dialect == "mysql" else f'"{name}"'

    def rows(self, sql: str) -> list[tuple]:
        if self.dialect == "sqlite":
            return self.conn.execute(sql).fetchall()
        if self.dialect == "mysql":
            with self.conn.cursor() as cursor:
                cursor.execute(sql)
                found = list(cursor.fetchall())
            self.conn.commit()
            return found
        out = subprocess.run(
            ["psql", "-X", "-At", "-F", "\x1f", "-v", "ON_ERROR_STOP=1", "-c", sql, self.dsn],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return [tuple(line.split("\x1f")) for line in out.splitlines()]

    def scalar(self, sql: str):
        value = self.rows(sql)[0][0]
        return int(value) if isinstance(value, str) and value.lstrip("-").isdigit() else value

    def run(self, statements: list[str]) -> None:
        """The statements in one transaction."""
        if self.dialect == "sqlite":
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for sql in statements:
                    self.conn.execute(sql)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        elif self.dialect == "mysql":
            with self.conn.cursor() as cursor:
                try:
                    for sql in statements:
                        cursor.execute(sql)
                except BaseException:
                    self.conn.rollback()
                    raise
            self.conn.commit()
        else:
            script = "BEGIN;\n" + ";\n".join(statements) + ";\nCOMMIT;\n"
            done = subprocess.run(
                ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-", self.dsn],
                input=script,
                capture_output=True,
                text=True,
            )
            if done.returncode:
                raise RuntimeError(f"psql failed: {done.stderr[-2000:]}")

    def columns(self, table: str) -> list[tuple[str, str]]:
        """(name, type) of the table's stored, non-generated columns."""
        if self.dialect == "sqlite":
            # table_info leaves generated columns out (table_xinfo would list them).
            return [(r[1], r[2].lower()) for r in self.rows(f"PRAGMA table_info({table})")]
        if self.dialect == "mysql":
            return [
                (r[0], r[1].lower())
                for r in self.rows(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = DATABASE()"
                    f" AND table_name = '{table}' AND extra NOT LIKE '%GENERATED%' ORDER BY ordinal_position"
                )
            ]
        return [
            (r[0], r[1].lower())
            for r in self.rows(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public'"
                f" AND table_name = '{table}' AND is_generated = 'NEVER' ORDER BY ordinal_position"
            )
        ]

    # --- expressions ---

    def copy_id(self, expr: str, k: str) -> str:
        """Copy k's id for the id in expr (NULL stays NULL)."""
        if self.dialect == "sqlite":
            return f"(printf('%08x', {k}) || substr({expr}, 9))"
        if self.dialect == "mysql":
            return f"CONCAT(LPAD(LOWER(HEX({k})), 8, '0'), SUBSTR({expr}, 9))"
        return f"(lpad(to_hex({k}), 8, '0') || substr({expr}::text, 9))::uuid"

    def cat(self, *parts: str) -> str:
        return f"CONCAT({', '.join(parts)})" if self.dialect == "mysql" else "(" + " || ".join(parts) + ")"

    def text(self, expr: str) -> str:
        return f"CAST({expr} AS {'CHAR' if self.dialect == 'mysql' else 'TEXT'})"

    def earlier(self, expr: str, seconds: str) -> str:
        if self.dialect == "sqlite":
            return f"datetime({expr}, '-' || ({seconds}) || ' seconds')"
        if self.dialect == "mysql":
            return f"DATE_SUB({expr}, INTERVAL ({seconds}) SECOND)"
        return f"({expr} - ({seconds}) * interval '1 second')"


@dataclass
class Replicator:
    """Copies the seeded runs of one server until it holds `scale` runs; keeps its place between scales."""

    db: Database
    kind: str  # zenml | mlmeta
    seeded: list[str]  # the seeded runs' ids (hex), the ones copied
    next_k: int = 1
    copies: int = 0
    prepared: bool = False

    def prepare(self) -> None:
        db, idtype = self.db, {"sqlite": "CHAR(32)", "mysql": "CHAR(32)", "postgres": "uuid"}[self.db.dialect]
        statements = [
            "DROP TABLE IF EXISTS bench_obj",
            "DROP TABLE IF EXISTS bench_k",
            f"CREATE TABLE bench_obj (id {idtype} NOT NULL PRIMARY KEY, ord INTEGER NOT NULL)",
            "CREATE TABLE bench_k (k INTEGER NOT NULL PRIMARY KEY)",
        ]
        for start in range(0, len(self.seeded), 500):
            chunk = self.seeded[start : start + 500]
            values = ", ".join(f"('{run_id}', {start + i + 1})" for i, run_id in enumerate(chunk))
            statements.append(f"INSERT INTO bench_obj (id, ord) VALUES {values}")
        statements += [f"INSERT INTO bench_obj (id, ord) {select}" for select in OBJECTS[self.kind]]
        db.run(statements)

    def count_runs(self) -> int:
        return self.db.scalar(f"SELECT COUNT(*) FROM {RUNS[self.kind]}")

    def insert(self, table: str, owner: str, mapped: tuple, k0: int, extra: int, index0: int, version0: int) -> str:
        db, n = self.db, len(self.seeded)
        g = f"((n.k - {k0}) * {n} + s.ord)"
        everywhere = f"({self.copies} + {g})"
        names, exprs = [], []
        for column, type_ in db.columns(table):
            if column == "id" and "int" in type_:
                continue  # an auto-increment key (Django's many-to-many table)
            col = f"t.{db.q(column)}"
            if column in mapped:
                expr = db.copy_id(col, "n.k")
            elif column in SHIFTED:
                expr = db.earlier(col, everywhere)
            elif table == RUNS[self.kind] and column in ("name", "orchestrator_run_id"):
                expr = db.cat(col, "'-c'", db.text(everywhere))
            elif table == RUNS[self.kind] and column == "index":
                expr = (
                    f"({index0} + {g})"
                    if self.kind == "zenml"
                    else f"CASE WHEN {col} > 0 THEN {index0} + {g} ELSE 0 END"
                )
            elif table == VERSIONS[self.kind] and column == "version_number":
                expr = f"CASE WHEN {col} IS NULL THEN NULL ELSE {version0} + {g} END"
            elif table == VERSIONS[self.kind] and column == "version":
                custom = db.cat(col, "'-c'", db.text(everywhere))
                numbered = db.text(f"{version0} + {g}")
                expr = f"CASE WHEN t.{db.q('version_number')} IS NULL THEN {custom} ELSE {numbered} END"
            else:
                expr = col
            names.append(db.q(column))
            exprs.append(expr)
        return (
            f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(exprs)} FROM {table} t"
            f" JOIN bench_obj s ON s.id = t.{db.q(owner)} CROSS JOIN bench_k n WHERE {g} <= {extra}"
        )

    def grow(self, scale: int, batch: int = 10_000, say=print) -> dict:
        """Copy seeded runs until the server holds `scale` runs; figures of the copying."""
        started = time.perf_counter()
        if not self.prepared:
            self.prepare()
            self.prepared = True
        db, n = self.db, len(self.seeded)
        extra = scale - self.count_runs()
        if extra <= 0:
            return {"copied_runs": 0, "seconds": 0}
        rounds = -(-extra // n)
        per_batch = max(1, batch // n)
        k0 = self.next_k
        index0 = db.scalar(f"SELECT COALESCE(MAX({db.q('index')}), 0) FROM {RUNS[self.kind]}")
        version0 = db.scalar(f"SELECT COALESCE(MAX(version_number), 0) FROM {VERSIONS[self.kind]}")
        inserts = [
            self.insert(table, owner, mapped, k0, extra, index0, version0) for table, owner, mapped in TABLES[self.kind]
        ]
        for first in range(k0, k0 + rounds, per_batch):
            ks = range(first, min(first + per_batch, k0 + rounds))
            db.run(
                [
                    "DELETE FROM bench_k",
                    f"INSERT INTO bench_k (k) VALUES {', '.join(f'({k})' for k in ks)}",
                    *inserts,
                ]
            )
            done = min((ks[-1] - k0 + 1) * n, extra)
            say(f"    copied {done}/{extra} runs ({time.perf_counter() - started:.0f} s)")
        self.next_k = k0 + rounds
        self.copies += extra
        statements = []
        for table, counter, child, number, fk in COUNTERS[self.kind]:
            statements.append(
                f"UPDATE {table} SET {counter} = COALESCE((SELECT MAX(c.{db.q(number)}) FROM {child} c"
                f" WHERE c.{fk} = {table}.id), {counter})"
                f" WHERE EXISTS (SELECT 1 FROM {child} c WHERE c.{fk} = {table}.id)"
            )
        db.run(statements)
        copied_s = time.perf_counter() - started
        if db.dialect == "postgres":
            db.run(["ANALYZE"])  # keeps and refreshes the extended statistics (CREATE STATISTICS) too
        elif db.dialect == "mysql":
            for table, _, _ in TABLES[self.kind]:
                db.rows(f"ANALYZE TABLE {table}")
        total = time.perf_counter() - started
        say(f"    copied {extra} runs in {copied_s:.0f} s, analyzed in {total - copied_s:.0f} s")
        return {
            "copied_runs": extra,
            "copy_s": round(copied_s, 1),
            "seconds": round(total, 1),
            "runs": self.count_runs(),
        }

    def a_copy(self) -> str:
        """The id (hex) of a run copied by the last grow(): the first seeded run's copy in its last round."""
        return f"{self.next_k - 1:08x}{self.seeded[0][8:]}"
