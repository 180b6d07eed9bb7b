"""SQL built once per process for the per-request path, where compiling an ORM query costs more
than running it: hand-written SELECTs for authentication and grants (built from the models'
metadata, values turned into Python the way Django's compiler does it: UUIDs kept as text on
SQLite, JSON, aware datetimes, booleans), and `KeyedQuery`, an ORM query compiled once and run
with a list of keys (the related rows of the API's list pages)."""

import json
import uuid

from django.db import connections
from django.db.models.query import ModelIterable, get_related_populators


def cache_key(connection) -> tuple[str, str]:
    """What SQL and converters built for `connection` are kept under: its alias and its database
    (tests swap the default alias to another database; production never does)."""
    return connection.alias, connection.vendor


class Columns:
    """Columns `alias.column` of model fields, as SQL and as converters for the values read."""

    def __init__(self, *columns):
        self.columns = tuple(columns)  # (table alias, model field)
        self._converters: dict = {}

    def __len__(self) -> int:
        return len(self.columns)

    def sql(self, connection) -> str:
        q = connection.ops.quote_name
        return ", ".join(f"{alias}.{q(field.column)}" for alias, field in self.columns)

    def _for(self, connection) -> list:
        found = self._converters.get(cache_key(connection))
        if found is None:
            found = []
            for alias, field in self.columns:
                col = field.get_col(alias)
                converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
                found.append((col, converters))
            self._converters[cache_key(connection)] = found
        return found

    def convert(self, values, connection) -> list:
        converted = []
        for value, (col, converters) in zip(values, self._for(connection), strict=True):
            for converter in converters:
                value = converter(value, col, connection)
            converted.append(value)
        return converted


def fields(model, *names) -> list:
    """`model`'s concrete fields named (by name or attname) in `names`, in the model's order (as
    `Model.from_db` expects them)."""
    wanted = set(names)
    return [f for f in model._meta.concrete_fields if f.name in wanted or f.attname in wanted]


class KeyedQuery:
    """An ORM query that changes between calls only in one list of keys: `build(keys)` returns
    the queryset, filtered with `<field>__in=keys`. Django compiles it once per connection alias
    (compiling cost more CPU than running it on the API's hot lists); each call runs that SQL with
    the keys as one parameter (`= ANY(%s)` on PostgreSQL, `json_each(%s)` on SQLite), so the
    statement text never changes and PostgreSQL keeps it prepared. `objects()` builds model
    instances as Django's ModelIterable does (select_related included); `rows()` returns the
    converted rows of a `values_list()` query. `build` must depend on nothing but the keys."""

    SENTINEL = uuid.UUID(int=0x5E11)

    def __init__(self, build):
        self.build = build
        self._compiled: dict = {}
        self._db: str | None = None  # the alias the queryset reads from (found once)

    def objects(self, keys) -> list:
        compiled, rows = self._run(keys)
        if compiled is None:
            return []
        model, db, init_list, start, end, populators = compiled["model"]
        found = []
        for row in rows:
            obj = model.from_db(db, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            found.append(obj)
        return found

    def rows(self, keys) -> list:
        return [tuple(row) for row in self._run(keys)[1]]

    def _run(self, keys):
        keys = list(keys)
        if not keys:
            return None, []
        if self._db is None:
            self._db = self.build([self.SENTINEL]).db
        connection = connections[self._db]
        compiled = self._compiled.get(cache_key(connection)) or self._compile(self.build([self.SENTINEL]), connection)
        if connection.vendor == "postgresql":
            bound = keys
        else:
            bound = json.dumps([key.hex if isinstance(key, uuid.UUID) else key for key in keys])
        params = [*compiled["before"], bound, *compiled["after"]]
        with connection.cursor() as cursor:
            cursor.execute(compiled["sql"], params)
            rows = cursor.fetchall()
        compiler = compiled["compiler"]
        if compiled["converters"]:
            rows = compiler.apply_converters(rows, compiled["converters"])
        return compiled, rows

    def _compile(self, queryset, connection) -> dict:
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        prepared = {self.SENTINEL, self.SENTINEL.hex, str(self.SENTINEL)}
        at = [i for i, param in enumerate(params) if isinstance(param, str | uuid.UUID) and param in prepared]
        parts = sql.split("%s")
        if len(at) != 1 or len(parts) != len(params) + 1 or not parts[at[0]].endswith(" IN ("):
            raise ValueError(f"KeyedQuery: filter on one `__in` list, got {sql!r}")
        i = at[0]
        if connection.vendor == "postgresql":
            keyed = parts[i][: -len(" IN (")] + " = ANY(%s" + parts[i + 1]
        else:
            keyed = parts[i] + "SELECT value FROM json_each(%s)" + parts[i + 1]  # noqa: S608 (no input)
        sql = "%s".join([*parts[:i], keyed, *parts[i + 2 :]])
        fields = [s[0] for s in compiler.select[: compiler.col_count]]
        compiled = {
            "sql": sql,
            "before": list(params[:i]),
            "after": list(params[i + 1 :]),
            "compiler": compiler,
            "converters": compiler.get_converters(fields),
            "model": None,
        }
        if issubclass(queryset._iterable_class, ModelIterable):
            klass_info, select = compiler.klass_info, compiler.select
            start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            init_list = [f[0].target.attname for f in select[start:end]]
            populators = get_related_populators(klass_info, select, queryset.db)
            compiled["model"] = (klass_info["model"], queryset.db, init_list, start, end, populators)
        self._compiled[cache_key(connection)] = compiled
        return compiled
