"""Signals through which `tenants` lets later apps (mlmeta) seed a tenant without importing them."""

from django.dispatch import Signal

# Sent by tenants.services.create_tenant() with `tenant` and `user` (the creator or None), inside
# the transaction that created the tenant and its default project: a receiver that fails rolls
# the whole tenant back, so a tenant never exists half-seeded.
tenant_created = Signal()

# Sent by tenants.services.repair_tenant() (used by `manage.py bootstrap`) for an existing tenant.
# Receivers create whatever of their seeds is missing and return a {"what": count created} dict.
tenant_repair = Signal()
