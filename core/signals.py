"""Signals the framework layer sends without knowing who listens (tenants audits them)."""

from django.dispatch import Signal

# A request was refused an action on a resource it can see: sender is the model, with
# `request`, `action` and `resource_id`.
access_denied = Signal()
