"""Per-parent counters (run index per pipeline, version number per artifact or model)."""

from django.db import models, transaction


def next_counter(model: type[models.Model], pk, field: str) -> int:
    """Increment `field` on the row `pk` and return the new value.

    The UPDATE takes the row's write lock until the surrounding transaction ends, so concurrent
    writers queue on it and each sees the value the previous one committed (PostgreSQL re-reads
    the row after the lock is released; SQLite serialises writers). Call it inside the
    transaction that also inserts the numbered child row.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("next_counter() must run inside transaction.atomic().")
    if connection.features.can_return_columns_from_insert:  # PostgreSQL, SQLite >= 3.35: one statement
        return _increment_returning(connection, model, pk, field)
    updated = model._base_manager.filter(pk=pk).update(**{field: models.F(field) + 1})
    if not updated:
        raise model.DoesNotExist(f"{model.__name__} {pk} does not exist.")
    return model._base_manager.filter(pk=pk).values_list(field, flat=True).get()


def _increment_returning(connection, model, pk, field: str) -> int:
    """`UPDATE ... RETURNING`: the increment and the new value in one round trip."""
    quote = connection.ops.quote_name
    column, pk_field = model._meta.get_field(field).column, model._meta.pk
    # Identifiers from the model's metadata, quoted; the id is a parameter.
    table, column, key = quote(model._meta.db_table), quote(column), quote(pk_field.column)
    sql = f"UPDATE {table} SET {column} = {column} + 1 WHERE {key} = %s RETURNING {column}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk_field.get_db_prep_value(pk, connection)])
        row = cursor.fetchone()
    if row is None:
        raise model.DoesNotExist(f"{model.__name__} {pk} does not exist.")
    return row[0]
