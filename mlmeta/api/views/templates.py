"""Run templates (ZenML's deprecated but still served `/run_templates`): a name on a snapshot, and
`POST /run_templates/{id}/runs` (what `Client().trigger_pipeline(template_id=...)` calls), a
server-side run of that snapshot through mlmeta.launching."""

from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.exceptions import ZenError
from mlmeta import launching
from mlmeta.api import references
from mlmeta.api.envelopes.runs import RunEnvelope
from mlmeta.api.envelopes.templates import RunTemplateEnvelope
from mlmeta.api.filtersets.pipelines import RunTemplateFilterSet
from mlmeta.api.views.scoped import ProjectScopedViewSet
from mlmeta.choices import TaggableResourceType
from mlmeta.models import PipelineRun, PipelineSnapshot, RunTemplate


class RunTemplateViewSet(ProjectScopedViewSet):
    model = RunTemplate
    envelope_class = RunTemplateEnvelope
    filterset_class = RunTemplateFilterSet
    create_schema = "RunTemplateRequest"
    update_schema = "RunTemplateUpdate"
    label = "run template"
    tag_type = TaggableResourceType.RUN_TEMPLATE
    unique_message = "Run template with name `{name}` already exists in this project."
    path_project = None

    def action_name(self) -> str:
        return "read" if self.action == "run" else super().action_name()

    def initial(self, request, *args, **kwargs):
        """The `/workspaces/{project}/run_templates` routes: the path's project scopes the list
        and is the project of a created template."""
        super().initial(request, *args, **kwargs)
        self.path_project = None
        if "project_name_or_id" in kwargs:
            self.path_project = references.resolve_project(request, kwargs["project_name_or_id"])

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset if self.path_project is None else queryset.filter(project=self.path_project)

    def project(self, data):
        return self.path_project or super().project(data)

    def perform_create(self, data):
        project = self.project(data)
        snapshot = self.ref(PipelineSnapshot, data["source_snapshot_id"], "source_snapshot_id", "snapshot", project)
        if snapshot.stack_id is None:
            raise ZenError("Unable to create run template as the snapshot has no stack: it cannot be run.")
        template = RunTemplate.objects.create(
            project=project,
            user=self.request.user,
            name=data["name"],
            description=data.get("description"),
            hidden=bool(data.get("hidden")),
            source_snapshot=snapshot,
        )
        if not template.hidden:  # as the real server: a visible template names its snapshot
            snapshot.name, snapshot.description = template.name, template.description
            snapshot.save(update_fields=["name", "description", "updated"])
        self.add_tags(template, data.get("tags"))
        return template

    def perform_update(self, template, data):
        for field in ("name", "description", "hidden"):
            if data.get(field) is not None:
                setattr(template, field, data[field])
        template.save()
        self.update_tags(template, data)
        return template

    def perform_destroy(self, template):
        PipelineSnapshot.objects.filter(template_id=template.pk).update(template_id=None)
        super().perform_destroy(template)

    @action(detail=True, methods=["post"], url_path="runs")
    def run(self, request, pk=None):
        """A server-side run of the template's snapshot; the body is a PipelineRunConfiguration."""
        template = self.get_object(self.get_queryset().select_related("source_snapshot__project"))
        snapshot = template.source_snapshot
        if snapshot is None:
            raise ZenError("This template can not be run because it has no source snapshot.")
        if not launching.may_launch(request.user, snapshot):
            self.deny("run", template.pk)
        run = launching.launch_snapshot(
            snapshot,
            user=request.user,
            overrides=request.data or None,
            trigger={"type": "template", "id": str(template.pk)},
            template_id=template.pk,
            request=request,
        )
        run = RunEnvelope.prefetch_one(PipelineRun.objects.filter(pk=run.pk), True).get()
        return Response(RunEnvelope(request, True).render(run))
