"""Hand-written SELECTs for the per-request path (authentication, grants), where compiling an ORM
query costs more than running it: the SQL is built once per database connection alias from the
models' metadata, and raw values are turned into Python the way Django's compiler does it (UUIDs
kept as text on SQLite, JSON, aware datetimes, booleans)."""


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
