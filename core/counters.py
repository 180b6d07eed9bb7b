"""Per-parent counters (run index per pipeline, version number per artifact or model)."""

from django.db import models, transaction


def next_counter(model: type[models.Model], pk, field: str) -> int:
    """Increment `field` on the row `pk` and return the new value.

    The UPDATE takes the row's write lock until the surrounding transaction ends, so concurrent
    writers queue on it and each sees the value the previous one committed (PostgreSQL re-reads
    the row after the lock is released; SQLite serialises writers). Call it inside the
    transaction that also inserts the numbered child row.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("next_counter() must run inside transaction.atomic().")
    updated = model._base_manager.filter(pk=pk).update(**{field: models.F(field) + 1})
    if not updated:
        raise model.DoesNotExist(f"{model.__name__} {pk} does not exist.")
    return model._base_manager.filter(pk=pk).values_list(field, flat=True).get()
