"""Signals the framework layer sends without knowing who listens (tenants audits them)."""

from django.dispatch import Signal

# A request was refused an action on a resource it can see: sender is the model, with
# `request`, `action` and `resource_id`.
access_denied = Signal()

# A resource was created, updated or deleted through the API: sender is the model, with
# `request`, `action` ("create", "update", "delete"), `obj`, `resource_id` (kept before a delete
# clears the primary key) and `changes` ({field: [old, new]} for updates, {field: value} for creates).
resource_changed = Signal()

# Fields whose values never leave the row through `field_values()` (they only say when).
_TIMESTAMPS = ("created", "updated")


def field_values(obj) -> dict:
    """The values of `obj`'s own columns by field name (foreign keys as ids), for comparing an
    object before and after a change. Secret-looking names are masked by the audit trail."""
    values = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or field.generated or field.name in _TIMESTAMPS:
            continue
        values[field.name] = getattr(obj, field.attname)
    return values


def changed_values(before: dict, after: dict) -> dict:
    """{field: [old, new]} for the fields whose value differs."""
    return {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}
