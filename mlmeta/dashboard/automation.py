"""Schedules and triggers in the dashboard: lists (through restrict) and one create/edit form
each. Saving a schedule keeps its celery-beat PeriodicTask in step (mlmeta.scheduling); a new
trigger's secret is shown once, then only kept sealed (mlmeta.triggers)."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.generic import ListView, View

from core.signals import resource_changed
from mlmeta import scheduling, triggers
from mlmeta.dashboard.base import RegistryPage
from mlmeta.models import Model, Pipeline, PipelineSnapshot, Schedule
from mlmeta.models.automation import Trigger, TriggerAction, TriggerDispatch, TriggerEvent
from mlmeta.run_views import refuse
from tenants import rbac

DISPATCHES_SHOWN = 50


class ScheduleForm(forms.ModelForm):
    interval_seconds = forms.IntegerField(min_value=1, required=False, label="Interval (seconds)")

    class Meta:
        model = Schedule
        fields = ["name", "snapshot", "cron_expression", "start_time", "end_time", "max_runs", "concurrency", "active"]
        widgets = {"start_time": forms.DateTimeInput(), "end_time": forms.DateTimeInput()}

    def clean(self):
        data = super().clean()
        cron, interval = data.get("cron_expression"), data.get("interval_seconds")
        if bool(cron) == bool(interval):
            raise forms.ValidationError("Give either a cron expression or an interval.")
        if cron:
            try:
                scheduling.parse_cron(cron)
            except ValueError as exc:
                self.add_error("cron_expression", str(exc))
        if not data.get("snapshot"):
            self.add_error("snapshot", "Choose the snapshot this schedule runs.")
        return data


class TriggerForm(forms.ModelForm):
    webhook_url = forms.URLField(max_length=1024, required=False, assume_scheme="https")

    class Meta:
        model = Trigger
        fields = [
            "name",
            "event",
            "pipeline",
            "model",
            "stage",
            "branch",
            "action",
            "snapshot",
            "webhook_url",
            "active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # ZenML's schedule and platform-event triggers are made through /api/v1/triggers (they need
        # a cadence or attached snapshots this form does not edit).
        zenml_events = (TriggerEvent.SCHEDULE, TriggerEvent.PLATFORM_EVENT)
        self.fields["event"].choices = [c for c in self.fields["event"].choices if c[0] not in zenml_events]

    def clean(self):
        data = super().clean()
        event, action = data.get("event"), data.get("action")
        if event in (TriggerEvent.RUN_COMPLETED, TriggerEvent.RUN_FAILED) and not data.get("pipeline"):
            self.add_error("pipeline", "Choose the pipeline whose runs are watched.")
        if event == TriggerEvent.MODEL_PROMOTED and not data.get("model"):
            self.add_error("model", "Choose the model whose promotions are watched.")
        if action == TriggerAction.RUN_SNAPSHOT and not data.get("snapshot"):
            self.add_error("snapshot", "Choose the snapshot to run.")
        if action == TriggerAction.CALL_WEBHOOK and not data.get("webhook_url"):
            self.add_error("webhook_url", "Give the URL to call.")
        if (
            event in (TriggerEvent.WEBHOOK_GITHUB, TriggerEvent.WEBHOOK_GENERIC)
            and action != TriggerAction.RUN_SNAPSHOT
        ):
            self.add_error("action", "An inbound webhook runs a snapshot.")
        return data


class AutomationPage(RegistryPage):
    model = None
    form_class = None
    list_name = ""

    def limit_choices(self, form):
        """Only what the user may read in this tenant is offered."""
        for name, model in (("snapshot", PipelineSnapshot), ("pipeline", Pipeline), ("model", Model)):
            if name in form.fields:
                form.fields[name].queryset = self.restrict(model, "read")

    def editable(self, pk):
        obj = self.get_or_404(self.restrict(self.model, "read"), pk)
        if not rbac.check(self.request.user, "update", obj):
            raise PermissionDenied("You may not change this.")
        return obj

    def may_create(self, project) -> bool:
        return rbac.can(self.request.user, "create", self.model.rbac_type, tenant=self.request.tenant, project=project)

    def actions_allowed(self, rows) -> dict:
        """Which rows of a page the user may pause/resume and delete (one check per action)."""
        ids = [row.pk for row in rows]
        user, tenant = self.request.user, self.request.tenant
        return {
            "may_update": rbac.allowed_ids(user, "update", self.model, ids, tenant=tenant),
            "may_delete": rbac.allowed_ids(user, "delete", self.model, ids, tenant=tenant),
        }


class ScheduleListView(AutomationPage, ListView):
    template_name = "mlmeta/automation/schedule_list.html"
    context_object_name = "schedules"
    paginate_by = 50

    model = Schedule

    def get_queryset(self):
        rows = self.restrict(Schedule).filter(is_archived=False, trigger__isnull=True)
        rows = rows.select_related("snapshot__pipeline", "pipeline")
        return rows.order_by("-created")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(self.actions_allowed(context["schedules"]))
        return context


class TriggerListView(AutomationPage, ListView):
    template_name = "mlmeta/automation/trigger_list.html"
    context_object_name = "triggers"
    paginate_by = 50

    model = Trigger

    def get_queryset(self):
        return self.restrict(Trigger).select_related("snapshot", "pipeline", "model").order_by("-created")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(self.actions_allowed(context["triggers"]))
        ids = [trigger.pk for trigger in context["triggers"]]
        context["dispatches"] = (
            self.restrict(TriggerDispatch)
            .filter(trigger_id__in=ids)
            .select_related("trigger")
            .order_by("-created")[:50]
        )
        return context


class ScheduleFormView(AutomationPage, View):
    model = Schedule
    template_name = "mlmeta/automation/schedule_form.html"

    def get(self, request, pk=None):
        schedule = self.editable(pk) if pk else None
        initial = {}
        if schedule and schedule.interval_second:
            initial["interval_seconds"] = int(schedule.interval_second.total_seconds())
        return self.show(ScheduleForm(instance=schedule, initial=initial), schedule)

    def post(self, request, pk=None):
        schedule = self.editable(pk) if pk else None
        form = ScheduleForm(request.POST, instance=schedule)
        self.limit_choices(form)
        if not form.is_valid():
            return self.show(form, schedule, status=422)
        schedule = form.save(commit=False)
        if pk is None:
            schedule.project = form.cleaned_data["snapshot"].project
            schedule.user = request.user
            if not self.may_create(schedule.project):
                raise PermissionDenied("You may not create schedules in this project.")
        seconds = form.cleaned_data.get("interval_seconds")
        schedule.interval_second = timedelta(seconds=seconds) if seconds else None
        schedule.pipeline = form.cleaned_data["snapshot"].pipeline
        with transaction.atomic():
            schedule.save()
            scheduling.sync(schedule)
        return redirect(reverse("schedule-list"))

    def show(self, form, schedule, status=200):
        self.limit_choices(form)
        may_delete = schedule is not None and rbac.check(self.request.user, "delete", schedule)
        context = {"form": form, "schedule": schedule, "may_delete": may_delete}
        return render(self.request, self.template_name, context, status=status)


class TriggerFormView(AutomationPage, View):
    model = Trigger
    template_name = "mlmeta/automation/trigger_form.html"

    def get(self, request, pk=None):
        trigger = self.editable(pk) if pk else None
        return self.show(TriggerForm(instance=trigger), trigger)

    def post(self, request, pk=None):
        trigger = self.editable(pk) if pk else None
        form = TriggerForm(request.POST, instance=trigger)
        self.limit_choices(form)
        if not form.is_valid():
            return self.show(form, trigger, status=422)
        trigger = form.save(commit=False)
        secret = None
        if pk is None:
            source = (
                form.cleaned_data.get("snapshot") or form.cleaned_data.get("pipeline") or form.cleaned_data.get("model")
            )
            if source is None:
                form.add_error(None, "Choose a snapshot, pipeline or model (it decides the project).")
                return self.show(form, trigger, status=422)
            trigger.project = source.project
            trigger.user = request.user
            if not self.may_create(trigger.project):
                raise PermissionDenied("You may not create triggers in this project.")
            secret = triggers.new_secret(trigger)
        trigger.save()
        if secret is None:
            return redirect(reverse("trigger-list"))
        hook_url = request.build_absolute_uri(reverse("inbound-webhook", args=[trigger.pk]))
        return render(
            request,
            "mlmeta/automation/trigger_secret.html",
            {"trigger": trigger, "secret": secret, "hook_url": hook_url},
        )

    def show(self, form, trigger, status=200):
        """The form; for an existing trigger also its actions and its last dispatches."""
        self.limit_choices(form)
        context = {"form": form, "trigger": trigger, "dispatches": [], "may_delete": False}
        if trigger is not None:
            dispatches = self.restrict(TriggerDispatch).filter(trigger=trigger).order_by("-created")
            context["dispatches"] = dispatches[:DISPATCHES_SHOWN]
            context["may_delete"] = rbac.check(self.request.user, "delete", trigger)
            context["inbound"] = trigger.event in (TriggerEvent.WEBHOOK_GITHUB, TriggerEvent.WEBHOOK_GENERIC)
        return render(self.request, self.template_name, context, status=status)


# Object actions: delete (confirm page, POST), pause/resume, rotate a trigger's secret -------------


def audited(request, action: str, obj, pk, resource_type: str, changes: dict | None = None) -> None:
    """Audit a dashboard change as the API's writes are (core.signals.resource_changed)."""
    resource_changed.send(
        sender=type(obj),
        request=request,
        action=action,
        obj=obj,
        resource_id=pk,
        resource_type=resource_type,
        changes=changes or {},
    )


class AutomationActionView(AutomationPage, View):
    """An action on one schedule or trigger: looked up through restrict (404), then `needs` is
    checked on the object (403, audited like the API's refusals)."""

    needs = "update"
    resource_type = ""

    def target(self, pk):
        obj = self.get_or_404(self.restrict(self.model, "read"), pk)
        if not rbac.check(self.request.user, self.needs, obj):
            refuse(self.request, self.needs, obj, "You may not change this.")
        return obj

    def back(self):
        return redirect(reverse(f"{self.resource_type}-list"))


class AutomationDeleteView(AutomationActionView):
    needs = "delete"
    template_name = "mlmeta/automation/confirm_delete.html"

    def get(self, request, pk):
        obj = self.target(pk)
        return render(request, self.template_name, {"obj": obj, "kind": self.resource_type})

    def post(self, request, pk):
        obj = self.target(pk)
        name = obj.name
        with transaction.atomic():
            self.remove(obj)
            audited(request, "delete", obj, pk, self.resource_type)
        messages.success(request, f"Deleted {self.resource_type} {name}.")
        return self.back()

    def remove(self, obj):
        obj.delete()


class ScheduleDeleteView(AutomationDeleteView):
    model = Schedule
    resource_type = "schedule"

    def remove(self, schedule):
        scheduling.remove(schedule)
        schedule.delete()


class TriggerDeleteView(AutomationDeleteView):
    model = Trigger
    resource_type = "trigger"


class AutomationActiveView(AutomationActionView):
    """POST: pause (active=False) or resume (active=True); a schedule's PeriodicTask follows."""

    http_method_names = ["post"]
    active = True

    def post(self, request, pk):
        obj = self.target(pk)
        before = obj.active
        obj.active = self.active
        with transaction.atomic():
            obj.save(update_fields=["active", "updated"])
            if self.model is Schedule:
                scheduling.sync(obj)
            audited(request, "update", obj, obj.pk, self.resource_type, {"active": [before, obj.active]})
        verb = "Resumed" if self.active else "Paused"
        messages.success(request, f"{verb} {self.resource_type} {obj.name}.")
        return self.back()


class TriggerRotateSecretView(AutomationActionView):
    """GET: what rotating does; POST: a new secret, shown once. The old one stops verifying at
    once (no grace period): senders must be updated with the new one."""

    model = Trigger
    resource_type = "trigger"

    def get(self, request, pk):
        return render(request, "mlmeta/automation/trigger_rotate.html", {"trigger": self.target(pk)})

    def post(self, request, pk):
        trigger = self.target(pk)
        secret = triggers.new_secret(trigger)
        with transaction.atomic():
            trigger.save(update_fields=["secret_sealed", "updated"])
            audited(request, "update", trigger, trigger.pk, "trigger", {"secret": "rotated"})
        hook_url = request.build_absolute_uri(reverse("inbound-webhook", args=[trigger.pk]))
        context = {"trigger": trigger, "secret": secret, "hook_url": hook_url, "rotated": True}
        response = render(request, "mlmeta/automation/trigger_secret.html", context)
        response["Cache-Control"] = "no-store"
        return response


class ScheduleActiveView(AutomationActiveView):
    model = Schedule
    resource_type = "schedule"


class TriggerActiveView(AutomationActiveView):
    model = Trigger
    resource_type = "trigger"
