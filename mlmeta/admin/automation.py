"""Admin of triggers and their dispatches (the secret is never shown: it is set in the dashboard,
which shows it once)."""

from django.contrib import admin
from django.db import models

from mlmeta.models.automation import Trigger, TriggerDispatch
from tenants.admin_base import RestrictedModelAdmin, related_link


@admin.register(Trigger)
class TriggerAdmin(RestrictedModelAdmin):
    list_display = ("name", "event", "action", "active", "project_link", "created")
    list_filter = ("event", "action", "active")
    list_select_related = ("project",)
    search_fields = ("name",)
    exclude = ("secret_sealed",)
    autocomplete_fields = ("pipeline", "model", "snapshot")
    readonly_fields = ("id", "created", "updated")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    project_link = related_link("project")


@admin.register(TriggerDispatch)
class TriggerDispatchAdmin(RestrictedModelAdmin):
    list_display = ("trigger", "status", "response_code", "run_id", "created")
    list_filter = ("status",)
    list_select_related = ("trigger",)
    readonly_fields = ("id", "trigger", "event_key", "event", "status", "response_code", "error", "run_id", "created")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
