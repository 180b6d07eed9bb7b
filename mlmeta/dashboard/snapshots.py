"""Snapshot pages: what a snapshot is (pipeline, stack, steps, configuration, runs from it, whether
the server can run it) and its Run form, generated from its parameters. The form launches through
mlmeta.launching like POST /api/v1/pipeline_snapshots/{id}/runs; "Run with changes" on a run
page is the same form for the run's snapshot, launched as a replay of the run."""

import json

from django.contrib import messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView

from core.api.exceptions import IllegalOperationError, ZenError
from mlmeta import launching
from mlmeta.dashboard.run_form import SnapshotRunForm
from mlmeta.models import PipelineRun, PipelineSnapshot
from mlmeta.run_views import DashboardMixin, refuse

RUNS_SHOWN = 20


def _pretty(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str) if value not in (None, {}, []) else ""


class SnapshotMixin(DashboardMixin):
    def get_snapshot(self, pk) -> PipelineSnapshot:
        related = ("pipeline", "stack", "project", "user", "tenant", "source_snapshot")
        snapshot = self.restrict(PipelineSnapshot).select_related(*related).filter(pk=pk).first()
        if snapshot is None:
            raise Http404("No such snapshot in this tenant, or you may not see it.")
        return snapshot


class SnapshotDetailView(SnapshotMixin, TemplateView):
    template_name = "mlmeta/snapshots/detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        snapshot = self.get_snapshot(kwargs["pk"])
        reason, runner = launching.refusal(snapshot)
        runs = (
            self.restrict(PipelineRun)
            .filter(Q(snapshot=snapshot) | Q(source_snapshot=snapshot))
            .select_related("user")
            .order_by("-created")[:RUNS_SHOWN]
        )
        steps = [
            {"name": name, "parameters": _pretty(((config or {}).get("config") or {}).get("parameters"))}
            for name, config in snapshot.ordered_step_configurations().items()
        ]
        context.update(
            snapshot=snapshot,
            refusal=reason,
            runner=runner,
            may_run=launching.may_launch(self.request.user, snapshot),
            steps=steps,
            parameters=_pretty((snapshot.pipeline_configuration or {}).get("parameters")),
            configuration=_pretty(snapshot.pipeline_configuration),
            runs=list(runs),
        )
        return context


class SnapshotRunView(SnapshotMixin, TemplateView):
    """GET: the Run form; POST: launch (403 without pipeline_run:create or read on the snapshot,
    422 with the launcher's message on the form, else a redirect to the new run)."""

    template_name = "mlmeta/snapshots/run_form.html"

    def target(self, pk):
        """(snapshot to run, run it replays or None)."""
        return self.get_snapshot(pk), None

    def get(self, request, pk):
        snapshot, source_run = self.allowed(pk)
        return self.show(SnapshotRunForm(snapshot), snapshot, source_run)

    def post(self, request, pk):
        snapshot, source_run = self.allowed(pk)
        form = SnapshotRunForm(snapshot, request.POST)
        if not form.is_valid():
            return self.show(form, snapshot, source_run, status=422)
        try:
            run = self.launch(snapshot, source_run, form.overrides())
        except IllegalOperationError:
            refuse(request, "create", snapshot, "You may not run this snapshot.")
        except ZenError as exc:  # bad overrides or a snapshot no runner can run: 422
            form.add_launch_error(exc)
            return self.show(form, snapshot, source_run, status=422)
        messages.success(request, f"Started {run.name}.")
        return redirect("run-detail", pk=run.pk)

    def allowed(self, pk):
        snapshot, source_run = self.target(pk)
        if not launching.may_launch(self.request.user, snapshot):
            refuse(self.request, "create", source_run or snapshot, "You may not run this snapshot.")
        return snapshot, source_run

    def launch(self, snapshot, source_run, overrides):
        return launching.launch_snapshot(
            snapshot, user=self.request.user, overrides=overrides, trigger={"type": "dashboard"}, request=self.request
        )

    def show(self, form, snapshot, source_run, status=200):
        reason, _ = launching.refusal(snapshot)
        context = self.get_context_data(form=form, snapshot=snapshot, source_run=source_run, refusal=reason)
        return self.render_to_response(context, status=status)


class RunWithChangesView(SnapshotRunView):
    """The Run form of a run's snapshot, prefilled with that run's parameters; launched as a
    replay of the run (launching.replay_run)."""

    def target(self, pk):
        run = self.restrict(PipelineRun).select_related("snapshot__pipeline", "snapshot__stack").filter(pk=pk).first()
        if run is None:
            raise Http404("No such run in this tenant.")
        if run.snapshot is None:
            raise Http404("This run has no snapshot any more: it cannot be run again.")
        return run.snapshot, run

    def launch(self, snapshot, source_run, overrides):
        return launching.replay_run(source_run, user=self.request.user, overrides=overrides, request=self.request)
