"""Fast inserts of generated rows (demo data, imports): dicts of attribute values written with
one `executemany` (SQLite) or `COPY` (PostgreSQL) per table, without model instances.

It is bulk_create without its per-row SQL assembly, which dominates at hundreds of thousands of
rows. Like bulk_create it skips save() and signals: callers set every value save() would (tenant,
counters). Missing keys take the field's default, computed once per call (the time of the call
for `auto_now` fields; a required field without one fails in the database), except a primary
key's, which is computed per row (a new UUID each).
"""

import uuid

from django.db import connections, models
from django.db.models.fields import AutoFieldMixin
from django.utils import timezone

_MISSING = object()
# Fields whose database value is the Python value itself when that has the right type.
_PLAIN = {
    "CharField": str,
    "SlugField": str,
    "TextField": str,
    "BooleanField": bool,
    "IntegerField": int,
    "BigIntegerField": int,
    "PositiveIntegerField": int,
}


class _Column:
    __slots__ = ("attname", "default", "field", "per_row", "plain", "uuid_hex", "uuid_native")

    def __init__(self, field: models.Field, connection, now):
        self.field = field
        self.attname = field.attname
        kind = field.target_field.get_internal_type() if field.is_relation else field.get_internal_type()
        self.plain = _PLAIN.get(kind) if not field.is_relation else None
        # What UUIDField.get_db_prep_value does, without its per-value overhead.
        native = connection.features.has_native_uuid_field
        self.uuid_hex = kind == "UUIDField" and not native
        self.uuid_native = kind == "UUIDField" and native
        self.per_row = field.primary_key and callable(field.default)
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            self.default = field.get_db_prep_save(now, connection)
        elif not self.per_row:
            self.default = field.get_db_prep_save(field.get_default(), connection)

    def value(self, row: dict, connection):
        value = row.get(self.attname, _MISSING)
        if value is _MISSING:
            if self.per_row:
                return self.field.get_db_prep_save(self.field.get_default(), connection)
            return self.default
        if value is None or type(value) is self.plain:
            return value
        if type(value) is uuid.UUID and (self.uuid_hex or self.uuid_native):
            return value.hex if self.uuid_hex else value
        return self.field.get_db_prep_save(value, connection)


def insert_rows(model: type[models.Model], rows: list[dict], using: str = "default") -> int:
    """Insert `rows` (dicts keyed by attribute name, e.g. `tenant_id`) into `model`'s table."""
    if not rows:
        return 0
    connection = connections[using]
    now = timezone.now()
    columns = [
        _Column(field, connection, now)
        for field in model._meta.concrete_fields
        if not isinstance(field, AutoFieldMixin) and not field.generated  # the database fills generated columns
    ]
    params = [tuple(column.value(row, connection) for column in columns) for row in rows]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(column.field.column) for column in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in params:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            # Table and column names come from the model's metadata, quoted; values are parameters.
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", params)  # noqa: S608
    return len(params)
