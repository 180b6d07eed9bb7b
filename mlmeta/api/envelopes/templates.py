"""Envelope of run templates, with the run configuration template the real server computes for a
template whose snapshot was built for a stack."""

from core.api.envelope import id_or_none
from core.api.validation import schema
from mlmeta.api.envelopes.common import TagEnvelope, tags_by_resource
from mlmeta.api.envelopes.nested import PageEnvelope, nested
from mlmeta.api.envelopes.pipelines import (
    CodeReferenceEnvelope,
    PipelineBuildEnvelope,
    PipelineEnvelope,
    SnapshotEnvelope,
    with_latest_run,
)
from mlmeta.choices import TaggableResourceType
from tenants.api.envelopes import nested_user

STEP_EXCLUDED = {"name", "outputs"}
PIPELINE_EXCLUDED = {"schedule", "build"}


def is_runnable(snapshot) -> bool:
    """The real server's rule: the snapshot has a (non-local) build made for a stack."""
    build = snapshot.build if snapshot is not None else None
    return bool(build is not None and not build.is_local and build.stack_id)


def without_empty(values: dict, allowed, excluded) -> dict:
    """`values` limited to `allowed` keys, without `excluded` ones, unset values or docker settings."""
    kept = {key: value for key, value in values.items() if key in allowed and key not in excluded}
    kept = {key: value for key, value in kept.items() if value not in (None, {}, [])}
    if isinstance(kept.get("settings"), dict):
        kept["settings"] = {key: value for key, value in kept["settings"].items() if key != "docker"}
    return kept


def config_template(snapshot) -> dict:
    """What a run of the snapshot may configure, filled with the snapshot's values (ZenML's
    template_utils.generate_config_template: the step overrides and the run-level pipeline
    options; parameters only for dynamic pipelines)."""
    step_fields = set(schema("StepConfigurationUpdate")["properties"])
    pipeline_fields = set(schema("PipelineRunConfiguration")["properties"])
    steps = {
        name: without_empty((step or {}).get("step_config_overrides") or {}, step_fields, STEP_EXCLUDED)
        for name, step in snapshot.ordered_step_configurations().items()
    }
    excluded = PIPELINE_EXCLUDED if snapshot.is_dynamic else {*PIPELINE_EXCLUDED, "parameters"}
    pipeline = without_empty(snapshot.pipeline_configuration or {}, pipeline_fields - {"steps"}, excluded)
    return {"run_name": snapshot.run_name_template, "steps": steps, **pipeline}


class RunTemplateEnvelope(PageEnvelope):
    related_paths = ("source_snapshot", "source_snapshot.pipeline", "source_snapshot.build")

    def load(self, templates):
        self.tags = tags_by_resource(TaggableResourceType.RUN_TEMPLATE, [t.pk for t in templates])

    def body(self, template) -> dict:
        return {**super().body(template), "runnable": is_runnable(template.source_snapshot), "hidden": template.hidden}

    def metadata(self, template) -> dict:
        snapshot = template.source_snapshot
        configurable = snapshot is not None and snapshot.build is not None and bool(snapshot.build.stack_id)
        return {
            "description": template.description,
            "pipeline_spec": snapshot.pipeline_spec if snapshot is not None else None,
            "config_template": config_template(snapshot) if configurable else None,
            "config_schema": snapshot.config_schema if configurable else None,
        }

    def resources(self, template) -> dict:
        snapshot = template.source_snapshot
        return {
            "user": nested_user(template.user),
            "source_snapshot": nested(SnapshotEnvelope, snapshot, self),
            "pipeline": nested(PipelineEnvelope, snapshot and snapshot.pipeline, self),
            "build": nested(PipelineBuildEnvelope, snapshot and snapshot.build, self),
            "code_reference": nested(CodeReferenceEnvelope, snapshot and snapshot.code_reference),
            "tags": [TagEnvelope(self.request).render(tag) for tag in self.tags.get(template.pk, [])],
            "latest_run_id": id_or_none(getattr(template, "latest_run_id", None)),
            "latest_run_status": getattr(template, "latest_run_status", None),
        }

    @classmethod
    def prefetch(cls, queryset, hydrate):
        queryset = queryset.select_related(
            "user",
            "source_snapshot__pipeline",
            "source_snapshot__build",
            "source_snapshot__code_reference__code_repository",
        )
        queryset = with_latest_run(queryset, "snapshot__template_id")
        if hydrate:
            return queryset
        return queryset.defer(
            "source_snapshot__step_configurations",
            "source_snapshot__pipeline_spec",
            "source_snapshot__source_code",
            "source_snapshot__config_template",
            "source_snapshot__config_schema",
            "source_snapshot__pipeline_configuration",
            "source_snapshot__client_environment",
        )
