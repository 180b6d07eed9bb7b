"""Schedules and triggers in the dashboard: lists (through restrict) and one create/edit form
each. Saving a schedule keeps its celery-beat PeriodicTask in step (mlmeta.scheduling); a new
trigger's secret is shown once, then only kept sealed (mlmeta.triggers)."""

from datetime import timedelta

from django import forms
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.generic import ListView, View

from mlmeta import scheduling, triggers
from mlmeta.dashboard.base import RegistryPage
from mlmeta.models import Model, Pipeline, PipelineSnapshot, Schedule
from mlmeta.models.automation import Trigger, TriggerAction, TriggerDispatch, TriggerEvent
from tenants import rbac


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


class ScheduleListView(AutomationPage, ListView):
    template_name = "mlmeta/automation/schedule_list.html"
    context_object_name = "schedules"
    paginate_by = 50

    def get_queryset(self):
        rows = self.restrict(Schedule).filter(is_archived=False).select_related("snapshot", "pipeline")
        return rows.order_by("-created")


class TriggerListView(AutomationPage, ListView):
    template_name = "mlmeta/automation/trigger_list.html"
    context_object_name = "triggers"
    paginate_by = 50

    def get_queryset(self):
        return self.restrict(Trigger).select_related("snapshot", "pipeline", "model").order_by("-created")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
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
        return render(self.request, self.template_name, {"form": form, "schedule": schedule}, status=status)


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
        self.limit_choices(form)
        return render(self.request, self.template_name, {"form": form, "trigger": trigger}, status=status)
