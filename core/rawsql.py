"""SQL built once per process for the per-request path, where compiling an ORM query costs more
than running it: hand-written SELECTs for authentication and grants (built from the models'
metadata, values turned into Python the way Django's compiler does it: UUIDs kept as text on
SQLite, JSON, aware datetimes, booleans), and `KeyedQuery`, an ORM query compiled once and run
with a list of keys (the related rows of the API's list pages), and `fetch`, a list page's own
query with only its WHERE compiled per request."""

import json
import uuid
from contextlib import contextmanager

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections
from django.db.models import prefetch_related_objects
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
        return self.send(keys).objects()

    def rows(self, keys) -> list:
        return self.send(keys).rows()

    def send(self, keys) -> "Sent":
        """Run the query for `keys` and read its rows later, from the `Sent` returned: inside
        `together()`, the queries sent reach the database at once."""
        keys = list(keys)
        if not keys:
            return Sent(None, None)
        if self._db is None:
            self._db = self.build([self.SENTINEL]).db
        connection = connections[self._db]
        compiled = self._compiled.get(cache_key(connection)) or self._compile(self.build([self.SENTINEL]), connection)
        if connection.vendor == "postgresql":
            bound = keys
        else:
            bound = json.dumps([key.hex if isinstance(key, uuid.UUID) else key for key in keys])
        return execute(connection, compiled, compiled["sql"], [*compiled["before"], bound, *compiled["after"]])

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
        compiled = {
            "sql": sql,
            "before": list(params[:i]),
            "after": list(params[i + 1 :]),
            "compiler": compiler,
            "converters": converters(compiler),
            "model": model_builder(queryset, compiler) if issubclass(queryset._iterable_class, ModelIterable) else None,
        }
        self._compiled[cache_key(connection)] = compiled
        return compiled


def keyed_queries(build):
    """A `KeyedQuery` for each value of a parameter (a resource type, a model), made on first use:
    `build(value, keys)` is the queryset; returns `query(value) -> KeyedQuery`."""
    queries: dict = {}

    def query(value) -> KeyedQuery:
        if value not in queries:
            queries[value] = KeyedQuery(lambda keys: build(value, keys))
        return queries[value]

    return query


def execute(connection, compiled, sql, params) -> "Sent":
    """Run `sql`, whose rows `compiled` (`converters`, `model`) reads; the rows are fetched later."""
    cursor = connection.cursor()
    try:
        cursor.execute(sql, params)
    except BaseException:
        cursor.close()
        raise
    return Sent(compiled, cursor)


class Sent:
    """The rows of a `KeyedQuery` sent to the database, read once, on the first `objects()` or
    `rows()` (inside `together()`, after the block)."""

    def __init__(self, compiled, cursor):
        self.compiled, self.cursor = compiled, cursor
        self._rows = None

    def _fetch(self) -> list:
        if self._rows is None:
            if self.cursor is None:
                self._rows = []
            else:
                try:
                    rows = self.cursor.fetchall()
                finally:
                    self.cursor.close()
                if self.compiled["converters"]:
                    rows = self.compiled["compiler"].apply_converters(rows, self.compiled["converters"])
                self._rows = list(rows)
        return self._rows

    def objects(self) -> list:
        rows = self._fetch()
        return build_objects(self.compiled["model"], rows) if rows else []

    def rows(self) -> list:
        return [tuple(row) for row in self._fetch()]


@contextmanager
def together(using: str = "default"):
    """One round trip for the `KeyedQuery.send()`s inside the block: on PostgreSQL, psycopg's
    pipeline mode sends them at once and their rows come back together when the block ends (read
    them after it); elsewhere they run one by one. A page's rows that depend only on the page
    (its users, tags, latest runs) are loaded this way."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    # The rows come back as the block ends, outside Django's cursor: its exceptions, as Django's.
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


def converters(compiler) -> dict:
    """The converters of a compiled (`as_sql()`) query's columns, as `apply_converters` takes them."""
    return compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])


def model_builder(queryset, compiler) -> tuple:
    """What ModelIterable takes from a compiled query to turn its rows into model instances
    (select_related included)."""
    klass_info, select = compiler.klass_info, compiler.select
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [f[0].target.attname for f in select[start:end]]
    populators = get_related_populators(klass_info, select, queryset.db)
    return klass_info["model"], queryset.db, init_list, start, end, populators


def build_objects(builder, rows) -> list:
    model, db, init_list, start, end, populators = builder
    found = []
    for row in rows:
        obj = model.from_db(db, init_list, row[start:end])
        for populator in populators:
            populator.populate(row, obj)
        found.append(obj)
    return found


# --- a list page's query --------------------------------------------------------------------
# Compiled pages by shape: what decides the SQL outside its WHERE and LIMIT (`_shape`). False: a
# shape whose SQL cannot be split around its WHERE (parameters outside it), always compiled in full.
# Shapes come from the code (sort fields, joins, select_related), not from values; the bound is a
# guard all the same.
_pages: dict = {}
MAX_SHAPES = 1_000


def fetch(queryset) -> list:
    """`list(queryset)` for a list page (a sliced queryset of model instances). Django compiles
    the SELECT, FROM, ORDER BY and LIMIT anew for every request, which cost more CPU than running
    a page; they depend only on the query's shape (model, joins, select_related, ordering), so
    they are compiled once per shape and process, and only the WHERE, which holds every value (the
    tenant, the caller's grants, the filters), is compiled per request by Django. A queryset this
    does not cover (annotations, extra, values(), ...) is run as is."""
    found = _where(queryset)
    if found is None:
        return list(queryset)
    page, where, params = found
    if page is None:  # nothing matches
        return []
    query, connection = queryset.query, connections[queryset.db]
    limit = connection.ops.limit_offset_sql(query.low_mark, query.high_mark)
    sql = f"{page['select']} {page['from']} WHERE {where}{page['rest']} {limit}"
    objects = execute(connection, page, sql, params).objects()
    if queryset._prefetch_related_lookups:
        prefetch_related_objects(objects, *queryset._prefetch_related_lookups)
    return objects


def _rows(queryset):
    """`_where` for a count or an estimate of `queryset`'s rows: None for what they cannot follow."""
    query = queryset.query
    return None if query.distinct or query.select_related or query.is_sliced else _where(queryset)


def count(queryset, limit: int | None = None) -> int:
    """`queryset.count()`, or the count of its first `limit` rows, with the SQL around the WHERE
    kept per shape as `fetch` does (a list of more than one page counts its rows on every request)."""
    found = _rows(queryset)
    if found is None:
        return (queryset[:limit] if limit else queryset).count()
    page, where, params = found
    if page is None:
        return 0
    rows = f"{page['from']} WHERE {where}"  # Django's SQL, no input in it
    sql = f"SELECT COUNT(*) {rows}"
    if limit:
        sql = f"SELECT COUNT(*) FROM (SELECT 1 {rows} LIMIT {int(limit)}) subquery"  # noqa: S608
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def estimate(queryset) -> int:
    """PostgreSQL's estimate of the rows of `queryset` (`EXPLAIN`, nothing run), with the SQL
    around the WHERE kept per shape as `count` does."""
    found = _rows(queryset)
    if found is None:
        plan = queryset.order_by().explain(format="json")  # nothing for a query that matches nothing
    elif found[0] is None:
        plan = None
    else:
        page, where, params = found
        with connections[queryset.db].cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 {page['from']} WHERE {where}", params)
            plan = cursor.fetchone()[0]
    if not plan:
        return 0
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


def _where(queryset):
    """(the shape's compiled SQL, this query's WHERE and its parameters); (None, "", []) when the
    WHERE matches nothing; None when `queryset` must be compiled in full."""
    key = _shape(queryset)
    if key is None:
        return None
    connection = connections[queryset.db]
    key = (*key, cache_key(connection))
    page = _pages.get(key)
    if page is None:
        page = _compile_page(queryset, connection)
        if page is None:  # a WHERE that matches all or nothing: the next of this shape will tell
            return None
        if len(_pages) >= MAX_SHAPES:
            _pages.clear()
        _pages[key] = page
    if page is False:
        return None
    try:
        where, params = queryset.query.get_compiler(connection=connection).compile(queryset.query.where)
    except EmptyResultSet:
        return None, "", []
    except FullResultSet:
        return None
    return page, where, params


def _shape(queryset) -> tuple | None:
    """Everything of `queryset` that decides its SQL outside the WHERE, or None when it has
    something this does not follow (then it is compiled in full)."""
    query = queryset.query
    plain = (
        queryset._iterable_class is ModelIterable
        and not queryset._known_related_objects
        and queryset._fields is None
        and query.default_cols
        and not query.select
        and not query.values_select
        and not query.annotations
        and not query.extra
        and not query.extra_tables
        and not query.extra_order_by
        and query.combinator is None
        and query.group_by is None
        and not query.distinct_fields
        and not query.select_for_update
        and not query.subquery
        and all(isinstance(o, str) for o in query.order_by)
    )
    if not plain:
        return None
    joins = []
    for alias, table in query.alias_map.items():
        if getattr(table, "filtered_relation", None) is not None:
            return None
        join = (
            getattr(table, "parent_alias", None),
            getattr(table, "join_type", None),
            getattr(table, "join_field", None),
        )
        joins.append((alias, table.table_name, query.alias_refcount.get(alias), *join))
    return (
        query.model,
        queryset.db,
        tuple(joins),
        _frozen(query.select_related),
        query.max_depth,
        (frozenset(query.deferred_loading[0]), query.deferred_loading[1]),
        tuple(query.order_by),
        query.default_ordering,
        query.standard_ordering,
        query.distinct,
        query.alias_prefix,
    )


def _frozen(select_related):
    if isinstance(select_related, dict):
        return tuple(sorted((name, _frozen(nested)) for name, nested in select_related.items()))
    return select_related


def _compile_page(queryset, connection):
    """The SQL of `queryset` around its WHERE; False when parameters sit outside it, None when its
    WHERE matches all or nothing."""
    compiler = queryset.query.get_compiler(connection=connection)
    try:
        sql, params = compiler.as_sql()
        where, where_params = compiler.compile(compiler.where)
    except (EmptyResultSet, FullResultSet):
        return None
    marker = f" WHERE {where}"
    if sql.count(marker) != 1 or list(params) != list(where_params):
        return False
    select, rest = sql.split(marker)
    query = queryset.query
    limit = connection.ops.limit_offset_sql(query.low_mark, query.high_mark)
    if limit:  # the slice is put back per request
        if not rest.endswith(f" {limit}"):
            return False
        rest = rest[: -len(limit) - 1]
    select, found, tables = select.partition(" FROM ")  # column names are quoted, no subquery
    if not found:
        return False
    return {
        "select": select,
        "from": f"FROM {tables}",
        "rest": rest,
        "compiler": compiler,
        "converters": converters(compiler),
        "model": model_builder(queryset, compiler),
    }
