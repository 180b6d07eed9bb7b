"""Dashboard pages for runs and steps: the runs list (filters, sorting, live statuses, bulk delete),
a run page (DAG, timeline, configuration, metadata, logs, stop/delete), a step page (logs viewer,
source, cache with "expire cache") and the global search box.

Every query goes through `self.restrict()` (tenant + RBAC); object actions through rbac.check().
"""

import json
import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.functional import cached_property
from django.views import View
from django.views.generic import TemplateView

from core.api.exceptions import ZenError
from core.paginators import CappedCountPaginator
from core.signals import access_denied, resource_changed
from mlmeta import artifact_files, launching
from mlmeta.choices import MetadataResourceType, TaggableResourceType
from mlmeta.models import (
    Artifact,
    Model,
    Pipeline,
    PipelineRun,
    RunMetadata,
    StepRun,
    StepRunInput,
    StepRunOutput,
    TagResource,
)
from mlmeta.run_filters import DashboardRunFilterSet
from tenants import rbac
from tenants.models import Project
from tenants.views import TenantViewMixin

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _url(name: str, *args) -> str | None:
    """The URL of a page another part of the dashboard may (not yet) provide."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _pretty(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str) if value not in (None, {}, []) else ""


def refuse(request, action: str, obj, message: str):
    """Audit a refused action (like the API's refusals) and answer 403."""
    access_denied.send(sender=type(obj), request=request, action=action, resource_id=obj.pk)
    raise PermissionDenied(message)


def audit_change(request, action: str, obj, pk, changes: dict | None = None) -> None:
    """Audit an update or delete made from the dashboard, as the API does."""
    resource_changed.send(
        sender=type(obj), request=request, action=action, obj=obj, resource_id=pk, changes=changes or {}
    )


class DashboardMixin(TenantViewMixin):
    """A dashboard page with the frame's project switcher: `?project=<id>` is remembered per tenant
    in the session; `?project=` (empty) shows all projects."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.tenant is not None and "project" in request.GET:
            key = f"project:{request.tenant.pk}"
            request.session[key] = request.GET["project"] or None
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def current_project(self):
        """The project chosen in the switcher, if the user may still read it."""
        pk = _uuid_or_none(self.request.session.get(f"project:{self.request.tenant.pk}") or "")
        return self.restrict(Project).filter(pk=pk).first() if pk else None

    def scoped(self, model, action=None):
        """`restrict()` narrowed to the chosen project, if any."""
        queryset = self.restrict(model, action)
        return queryset.filter(project=self.current_project) if self.current_project else queryset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["user_projects"] = self.restrict(Project).order_by("name")[:50]
        context["current_project"] = self.current_project
        return context


class RunListView(DashboardMixin, TemplateView):
    """The runs list: filters, sorting, capped pagination; in-progress rows poll their status."""

    template_name = "mlmeta/runs/list.html"
    paginate_by = 25

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filters = DashboardRunFilterSet(
            self.request.GET,
            queryset=self.scoped(PipelineRun).select_related("pipeline", "user", "stack"),
            request=self.request,
            window=_window(self.request.GET.get("page"), self.paginate_by),
        )
        form, runs = filters.form, filters.qs
        paginator = CappedCountPaginator(runs, self.paginate_by, counted=filters.counted)
        page = paginator.get_page(self.request.GET.get("page"))
        rows = list(page.object_list)
        context.update(
            form=form,
            page=page,
            runs=rows,
            tags=_tags_of(TaggableResourceType.PIPELINE_RUN, [r.pk for r in rows]),
            live_ids=",".join(str(r.pk) for r in rows if r.in_progress),
            pipelines=self.scoped(Pipeline).order_by("name").values_list("pk", "name")[:200],
            query=_without_page(self.request.GET),
            login_command=f"zenml login {self.request.build_absolute_uri(reverse('home')).rstrip('/')}",
            any_runs=bool(rows) or self.restrict(PipelineRun).exists(),
        )
        for run in rows:
            run.tag_names = context["tags"].get(run.pk, [])
        return context


def _window(raw_page, per_page: int) -> int | None:
    """The rows up to the end of the asked page; None (every row) when the paginator would pick
    the page itself (a page that is no positive number shows the last one)."""
    try:
        page = int(raw_page or 1)
    except ValueError:
        return per_page
    return page * per_page if page >= 1 else None


def _without_page(query) -> str:
    params = query.copy()
    params.pop("page", None)
    return params.urlencode()


def _tags_of(resource_type: str, ids: list) -> dict:
    """Tag names per resource id, in one query."""
    tags: dict = {}
    links = TagResource.objects.filter(resource_type=resource_type, resource_id__in=ids).select_related("tag")
    for link in links.order_by("tag__name"):
        tags.setdefault(link.resource_id, []).append(link.tag.name)
    return tags


class RunStatusesView(DashboardMixin, View):
    """The htmx poll of the runs list: out-of-band status badges for the given run ids."""

    max_ids = 100

    def get(self, request):
        ids = [_uuid_or_none(raw) for raw in request.GET.get("ids", "").split(",")[: self.max_ids]]
        runs = list(self.restrict(PipelineRun).filter(pk__in=[i for i in ids if i]).only("pk", "status"))
        live_ids = ",".join(str(r.pk) for r in runs if r.in_progress)  # the poll stops when none is left
        html = render_to_string("mlmeta/runs/_statuses.html", {"runs": runs, "live_ids": live_ids}, request=request)
        return HttpResponse(html)


def _uuid_or_none(raw):
    try:
        return uuid.UUID(raw.strip())
    except (ValueError, AttributeError):
        return None


class RunBulkDeleteView(DashboardMixin, View):
    """Delete the checked runs the user may delete; says how many were deleted and refused."""

    http_method_names = ["post"]
    max_ids = 500

    def post(self, request):
        ids = [i for i in (_uuid_or_none(raw) for raw in request.POST.getlist("run")[: self.max_ids]) if i]
        deleted = refused = 0
        for run in self.restrict(PipelineRun).filter(pk__in=ids):
            if rbac.check(request.user, "delete", run):
                pk = run.pk
                run.delete()
                audit_change(request, "delete", run, pk)
                deleted += 1
            else:
                access_denied.send(sender=PipelineRun, request=request, action="delete", resource_id=run.pk)
                refused += 1
        refused += len(ids) - deleted - refused  # ids the user cannot even see
        if deleted:
            messages.success(request, f"Deleted {deleted} run{'s' if deleted != 1 else ''}.")
        if refused:
            messages.error(request, f"Refused {refused} run{'s' if refused != 1 else ''}: not allowed or not found.")
        return redirect(reverse("run-list") + ("?" + request.POST["next"] if request.POST.get("next") else ""))


class RunObjectMixin(DashboardMixin):
    """Looks up the run of the URL among the runs the user may read (404 otherwise)."""

    def get_run(self, pk):
        run = (
            self.restrict(PipelineRun)
            .select_related("pipeline", "user", "stack", "snapshot", "project")
            .filter(pk=pk)
            .first()
        )
        if run is None:
            raise Http404("No such run in this tenant.")
        return run


class RunDetailView(RunObjectMixin, TemplateView):
    """A run: header, DAG, timeline, configuration, metadata, tags, stack and logs."""

    template_name = "mlmeta/runs/detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        run = self.get_run(kwargs["pk"])
        steps = list(run.steps.order_by("start_time", "created"))
        user = self.request.user
        context.update(
            run=run,
            steps=steps,
            dag=_dag(steps),
            timeline=_timeline(steps),
            configuration=_pretty(run.snapshot.pipeline_configuration if run.snapshot else None),
            metadata=_metadata(MetadataResourceType.PIPELINE_RUN, run.pk),
            tags=_tags_of(TaggableResourceType.PIPELINE_RUN, [run.pk]).get(run.pk, []),
            components=list(run.stack.components.order_by("type", "name")) if run.stack else [],
            logs=_log_lines(_run_logs(run)),
            may_stop=run.in_progress and rbac.check(user, "update", run),
            may_rerun=run.snapshot is not None and launching.may_launch(user, run.snapshot),
            may_delete=rbac.check(user, "delete", run),
            live_ids=str(run.pk) if run.in_progress else "",  # the status badge polls until the run ends
        )
        return context


def _run_logs(run):
    """The run's own log record (the orchestrator's), not its steps'."""
    records = run.log_collection.filter(step_run__isnull=True).select_related("artifact_store")
    return records.order_by("created").first()


def _metadata(resource_type: str, pk) -> list:
    rows = RunMetadata.objects.filter(resource_type=resource_type, resource_id=pk).order_by("key", "-created")
    seen, cards = set(), []
    for row in rows[:200]:
        if row.key not in seen:
            seen.add(row.key)
            value = row.value
            cards.append({"key": row.key, "value": value if isinstance(value, (int, float, str)) else _pretty(value)})
    return cards


def _dag(steps: list) -> dict:
    """Steps and their artifacts as nodes, data flow as edges (two queries for the links)."""
    nodes, edges = [], []
    step_ids = [s.pk for s in steps]
    for step in steps:
        nodes.append(
            {
                "id": f"s-{step.pk}",
                "kind": "step",
                "label": step.name,
                "status": step.status,
                "url": reverse("step-detail", args=[step.pk]),
            }
        )
    artifacts: dict = {}
    outputs = StepRunOutput.objects.filter(step_run_id__in=step_ids).select_related("artifact_version__artifact")
    inputs = StepRunInput.objects.filter(step_run_id__in=step_ids).select_related("artifact_version__artifact")
    for link in list(outputs) + list(inputs):
        version = link.artifact_version
        if version.pk not in artifacts:
            artifacts[version.pk] = {
                "id": f"a-{version.pk}",
                "kind": "artifact",
                "label": version.artifact.name,
                "title": f"{version.artifact.name} v{version.version} ({link.name})",
                "status": "artifact",
                "url": _url("artifact-version-detail", version.pk),
            }
    nodes.extend(artifacts.values())
    for link in outputs:
        edges.append({"from": f"s-{link.step_run_id}", "to": f"a-{link.artifact_version_id}"})
    for link in inputs:
        edges.append({"from": f"a-{link.artifact_version_id}", "to": f"s-{link.step_run_id}"})
    return {"nodes": nodes, "edges": edges}


def _timeline(steps: list) -> list:
    """Bars (offset and width in percent of the run's span) for the steps that started."""
    started = [s for s in steps if s.start_time]
    if not started:
        return []
    begin = min(s.start_time for s in started)
    ends = [s.end_time or s.start_time for s in started]
    span = max((max(ends) - begin).total_seconds(), 1)
    bars = []
    for step in started:
        seconds = ((step.end_time or step.start_time) - step.start_time).total_seconds()
        offset = (step.start_time - begin).total_seconds()
        bars.append(
            {
                "step": step,
                "seconds": round(seconds, 1),
                "x": round(100 * offset / span, 2),
                "width": max(round(100 * seconds / span, 2), 0.5),
            }
        )
    return bars


def _log_lines(logs, query: str = "", level: str = "") -> list:
    """Entries of a Logs record (read by artifact_files like the API's /logs), optionally filtered."""
    if logs is None:
        return []
    try:
        entries = artifact_files.log_entries(logs)
    except ZenError as exc:  # a store the server cannot read: say so in place of the lines
        return [{"level": "ERROR", "message": f"The logs cannot be read: {exc}"}]
    if level:
        entries = [e for e in entries if str(e.get("level", "")).upper() == level]
    if query:
        entries = [e for e in entries if query.lower() in str(e.get("message", "")).lower()]
    return entries


class RunStopView(RunObjectMixin, View):
    """Stop a run (PipelineRun.request_stop); needs `update` on it."""

    http_method_names = ["post"]

    def post(self, request, pk):
        run = self.get_run(pk)
        if not rbac.check(request.user, "update", run):
            refuse(request, "update", run, "You may not stop this run.")
        before = run.status
        run.request_stop(graceful=request.POST.get("graceful") == "1")
        if run.launch:
            launching.stop_runner(run)
            run.refresh_from_db(fields=["status"])
        audit_change(request, "update", run, run.pk, {"status": [before, run.status]})
        messages.success(request, f"Asked run {run.name} to stop.")
        return redirect("run-detail", pk=run.pk)


class RunRerunView(RunObjectMixin, View):
    """Re-run a run server-side (launching.replay_run): its snapshot with its configuration.
    Needs read on the snapshot and pipeline_run:create; a snapshot that cannot run is a message."""

    http_method_names = ["post"]

    def post(self, request, pk):
        run = self.get_run(pk)
        if run.snapshot is None or not launching.may_launch(request.user, run.snapshot):
            refuse(request, "create", run, "You may not re-run this run.")
        try:
            new_run = launching.replay_run(run, user=request.user, request=request)
        except ZenError as exc:
            messages.error(request, f"This run cannot be re-run: {exc.message}")
            return redirect("run-detail", pk=run.pk)
        messages.success(request, f"Started {new_run.name}, a re-run of {run.name}.")
        return redirect("run-detail", pk=new_run.pk)


class RunDeleteView(RunObjectMixin, View):
    """Delete a run; needs `delete` on it."""

    http_method_names = ["post"]

    def post(self, request, pk):
        run = self.get_run(pk)
        if not rbac.check(request.user, "delete", run):
            refuse(request, "delete", run, "You may not delete this run.")
        name, pk = run.name, run.pk
        run.delete()
        audit_change(request, "delete", run, pk)
        messages.success(request, f"Deleted run {name}.")
        return redirect("run-list")


class StepObjectMixin(DashboardMixin):
    def get_step(self, pk):
        step = (
            self.restrict(StepRun)
            .select_related("pipeline_run__snapshot", "pipeline_run__pipeline", "original_step_run__pipeline_run")
            .filter(pk=pk)
            .first()
        )
        if step is None:
            raise Http404("No such step in this tenant.")
        return step


class StepDetailView(StepObjectMixin, TemplateView):
    """A step: details, configuration, source, logs (search, level, download), metadata, cache."""

    template_name = "mlmeta/runs/step.html"

    def get(self, request, *args, **kwargs):
        if request.GET.get("download"):
            step = self.get_step(kwargs["pk"])
            lines = _log_lines(step.logs.select_related("artifact_store").order_by("created").first())
            text = "\n".join(_log_text(e) for e in lines) + "\n"
            response = HttpResponse(text, content_type="text/plain; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{step.pk}.log"'
            return response
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        step = self.get_step(kwargs["pk"])
        query, level = self.request.GET.get("q", "")[:200], self.request.GET.get("level", "").upper()
        level = level if level in LOG_LEVELS else ""
        snapshot = step.pipeline_run.snapshot
        configuration = (snapshot.step_configurations or {}).get(step.name) if snapshot else None
        logs = step.logs.select_related("artifact_store").order_by("created").first()
        context.update(
            step=step,
            run=step.pipeline_run,
            configuration=_pretty(configuration),
            metadata=_metadata(MetadataResourceType.STEP_RUN, step.pk),
            inputs=step.input_links.select_related("artifact_version__artifact").order_by("name"),
            outputs=step.output_links.select_related("artifact_version__artifact").order_by("name"),
            logs_record=logs,
            logs=_log_lines(logs, query, level),
            query=query,
            level=level,
            levels=LOG_LEVELS,
            cache_expired=step.cache_expired,
            may_expire=bool(step.cache_key) and rbac.check(self.request.user, "update", step),
        )
        return context


def _log_text(entry: dict) -> str:
    parts = [str(entry.get(k)) for k in ("timestamp", "level") if entry.get(k)]
    return " ".join([*parts, str(entry.get("message", ""))])


class StepExpireCacheView(StepObjectMixin, View):
    """Expire a step's cache entry (StepRun.expire_cache) so later runs execute it again."""

    http_method_names = ["post"]

    def post(self, request, pk):
        step = self.get_step(pk)
        if not rbac.check(request.user, "update", step):
            refuse(request, "update", step, "You may not change this step.")
        before = step.cache_expires_at
        step.expire_cache()
        changes = {"cache_expires_at": [before and before.isoformat(), step.cache_expires_at.isoformat()]}
        audit_change(request, "update", step, step.pk, changes)
        messages.success(request, f"The cache of step {step.name} is expired: the next run executes it.")
        return redirect("step-detail", pk=step.pk)


class SearchView(DashboardMixin, TemplateView):
    """The frame's search box: pipelines, runs, artifacts and models by name (contains) or exact id."""

    template_name = "mlmeta/search.html"
    per_kind = 10

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        q = self.request.GET.get("q", "").strip()[:200]
        groups = []
        if q:
            match = Q(name__icontains=q)
            if _uuid_or_none(q):
                match |= Q(pk=_uuid_or_none(q))
            for label, model, url_name in (
                ("Pipelines", Pipeline, "pipeline-detail"),
                ("Runs", PipelineRun, "run-detail"),
                ("Artifacts", Artifact, "artifact-detail"),
                ("Models", Model, "model-detail"),
            ):
                rows = list(self.scoped(model).filter(match).order_by("-created")[: self.per_kind])
                items = [{"name": r.name, "url": _url(url_name, r.pk), "obj": r} for r in rows]
                groups.append({"label": label, "items": items})
        context.update(q=q, groups=groups)
        return context
