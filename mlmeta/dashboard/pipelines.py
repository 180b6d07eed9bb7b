"""Pipeline pages: the pipelines of the tenant (latest run, run count, tags, search) and one
pipeline (description, its latest runs in the runs list's table, its snapshots)."""

from django.db.models import F, IntegerField, OuterRef, Subquery
from django.urls import reverse
from django.views.generic import ListView, TemplateView

from core.paginators import CappedCountPaginator
from mlmeta.choices import TaggableResourceType
from mlmeta.dashboard.base import RegistryPage
from mlmeta.models import Pipeline, PipelineRun, PipelineSnapshot
from mlmeta.run_views import DashboardMixin, _tags_of

RUNS_SHOWN = 25
SNAPSHOTS_SHOWN = 50
RUN_COUNT_CAP = 1000  # counted exactly up to here, then shown as "1000+" (no full count per pipeline)


class CappedCount(Subquery):
    """COUNT(*) of a sliced subquery: at most its LIMIT rows are read, whatever the table holds."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) capped)"
    output_field = IntegerField()


def login_command(request) -> str:
    """The `zenml login` line that connects a client to this tenant."""
    return f"zenml login {request.build_absolute_uri(reverse('home')).rstrip('/')}"


class PipelineListView(DashboardMixin, RegistryPage, ListView):
    template_name = "mlmeta/pipelines/list.html"
    paginate_by = 50
    paginator_class = CappedCountPaginator
    context_object_name = "pipelines"

    def get_queryset(self):
        runs = self.restrict(PipelineRun).filter(pipeline=OuterRef("pk"))
        pipelines = self.scoped(Pipeline).select_related("project")
        if q := self.request.GET.get("q", "").strip()[:200]:
            pipelines = pipelines.filter(name__icontains=q)
        return pipelines.annotate(
            latest_run_id=Subquery(runs.order_by("-created").values("pk")[:1]),
            last_run_at=Subquery(runs.order_by("-created").values("created")[:1]),
            run_count=CappedCount(runs.order_by().values("pk")[: RUN_COUNT_CAP + 1]),
        ).order_by(F("last_run_at").desc(nulls_last=True), "name", "pk")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        pipelines = context["pipelines"]
        latest = self.restrict(PipelineRun).filter(pk__in=[p.latest_run_id for p in pipelines if p.latest_run_id])
        latest = {run.pk: run for run in latest.only("pk", "name", "status", "created")}
        tags = self.tags_by_resource(TaggableResourceType.PIPELINE, [p.pk for p in pipelines])
        for pipeline in pipelines:
            pipeline.latest_run = latest.get(pipeline.latest_run_id)
            pipeline.tag_list = tags.get(pipeline.pk, [])
        q = self.request.GET.copy()
        q.pop("page", None)
        context.update(
            q=self.request.GET.get("q", ""),
            run_count_cap=RUN_COUNT_CAP,
            query=q,
            any_pipelines=bool(pipelines) or self.restrict(Pipeline).exists(),
            login_command=login_command(self.request),
        )
        return context


class PipelineDetailView(DashboardMixin, RegistryPage, TemplateView):
    """One pipeline: description, tags, its latest runs (the runs list's table) and snapshots."""

    template_name = "mlmeta/pipelines/detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        pipeline = self.get_or_404(self.restrict(Pipeline).select_related("project", "user"), self.kwargs["pk"])
        runs = self.restrict(PipelineRun).filter(pipeline=pipeline).select_related("pipeline", "user", "stack")
        rows = list(runs.order_by("-created", "-pk")[: RUNS_SHOWN + 1])
        run_tags = _tags_of(TaggableResourceType.PIPELINE_RUN, [r.pk for r in rows])
        for run in rows:
            run.tag_names = run_tags.get(run.pk, [])
        snapshots = self.restrict(PipelineSnapshot).filter(pipeline=pipeline).select_related("stack")
        context.update(
            pipeline=pipeline,
            tags=self.tags_by_resource(TaggableResourceType.PIPELINE, [pipeline.pk]).get(pipeline.pk, []),
            runs=rows[:RUNS_SHOWN],
            more_runs=len(rows) > RUNS_SHOWN,
            live_ids=",".join(str(r.pk) for r in rows[:RUNS_SHOWN] if r.in_progress),
            query=f"pipeline={pipeline.pk}",
            snapshots=list(snapshots.order_by("-created", "-pk")[:SNAPSHOTS_SHOWN]),
            snapshots_shown=SNAPSHOTS_SHOWN,
            login_command=login_command(self.request),
        )
        return context
