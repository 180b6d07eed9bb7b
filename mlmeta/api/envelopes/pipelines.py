"""Envelopes of pipelines and what a run is made from: code repositories and references, builds,
schedules and snapshots."""

from django.db.models import CharField, OuterRef, Subquery, UUIDField
from django.utils.duration import duration_iso_string

from core.api.envelope import Envelope, OwnedEnvelope, id_or_none
from core.api.timestamps import ts
from core.rawsql import KeyedQuery
from mlmeta.api.envelopes.common import TagEnvelope, run_metadata_by_resource, send_tags, tags_by_resource, tags_of
from mlmeta.api.envelopes.nested import PageEnvelope, by_pk, nested
from mlmeta.api.envelopes.stacks import StackEnvelope
from mlmeta.choices import MetadataResourceType, TaggableResourceType
from mlmeta.models import Pipeline, PipelineRun
from tenants.api.envelopes import nested_user
from tenants.models import User

# Snapshot columns only the snapshot's own hydrated view shows; runs and steps never load them.
SNAPSHOT_HEAVY = ("step_configurations", "pipeline_spec", "source_code", "config_template", "config_schema")


def with_latest_run(queryset, via: str):
    """Annotate `latest_run_id/_status/_user_id`: the newest run whose `via` is the row."""
    if "latest_run_status" in queryset.query.annotations:
        return queryset
    runs = PipelineRun.objects.filter(**{via: OuterRef("pk")}).order_by("-created")
    return queryset.annotate(
        latest_run_id=Subquery(runs.values("id")[:1], output_field=UUIDField()),
        latest_run_status=Subquery(runs.values("status")[:1], output_field=CharField()),
        latest_run_user_id=Subquery(runs.values("user_id")[:1], output_field=UUIDField()),
    )


def latest_run_users(rows) -> dict:
    """{id: User} of the rows' latest runs; the rows' own users (loaded with them, and most often
    who ran them last) are not fetched again."""
    users = {row.user.pk: row.user for row in rows if row.user_id is not None}
    ids = {row.latest_run_user_id for row in rows if getattr(row, "latest_run_user_id", None)} - users.keys()
    if ids:
        users.update((user.pk, user) for user in by_pk(User).objects(ids))
    return users


def without_packages(environment: dict | None) -> dict:
    """ZenML leaves the (long) package list out of environments unless asked for it."""
    return {key: value for key, value in (environment or {}).items() if key != "python_packages"}


LATEST_RUNS = KeyedQuery(
    lambda ids: with_latest_run(Pipeline.objects.filter(pk__in=ids), "pipeline").values_list(
        "id", "latest_run_id", "latest_run_status", "latest_run_user_id"
    )
)


class PipelineEnvelope(PageEnvelope):
    page_relations = ("user",)

    def send(self, pipelines):
        self.unknown = [p for p in pipelines if not hasattr(p, "latest_run_status")]  # not annotated by a filter
        self.sent = (
            send_tags(TaggableResourceType.PIPELINE, [p.pk for p in pipelines]),
            LATEST_RUNS.send([p.pk for p in self.unknown]),
        )

    def load(self, pipelines):
        tags, latest = self.sent
        self.tags = tags_of(tags)
        latest = {pk: rest for pk, *rest in latest.rows()}
        for pipeline in self.unknown:
            pipeline.latest_run_id, pipeline.latest_run_status, pipeline.latest_run_user_id = latest.get(
                pipeline.pk, (None, None, None)
            )
        self.users = latest_run_users(pipelines)

    def metadata(self, pipeline) -> dict:
        return {"description": pipeline.description}

    def resources(self, pipeline) -> dict:
        return {
            "user": nested_user(pipeline.user),
            "latest_run_user": nested_user(self.users.get(getattr(pipeline, "latest_run_user_id", None))),
            "latest_run_id": id_or_none(getattr(pipeline, "latest_run_id", None)),
            "latest_run_status": getattr(pipeline, "latest_run_status", None),
            "tags": [TagEnvelope(self.request).render(tag) for tag in self.tags.get(pipeline.pk, [])],
            "visualizations": [],
        }

    @classmethod
    def prefetch(cls, queryset, hydrate):
        """The page of pipelines; `load` brings their latest runs."""
        return queryset


class CodeRepositoryEnvelope(OwnedEnvelope):
    resources_always = True

    def body(self, repo) -> dict:
        return {**super().body(repo), "source": repo.source, "logo_url": repo.logo_url}

    def metadata(self, repo) -> dict:
        return {"config": repo.config, "description": repo.description}

    def resources(self, repo) -> dict:
        return {"user": nested_user(repo.user)}

    @classmethod
    def prefetch(cls, queryset, hydrate):
        return queryset.select_related("user")


class CodeReferenceEnvelope(Envelope):
    name_attr = None

    def body(self, reference) -> dict:
        return {
            **super().body(reference),
            "commit": reference.commit,
            "subdirectory": reference.subdirectory,
            "code_repository": nested(CodeRepositoryEnvelope, reference.code_repository),
        }


class PipelineBuildEnvelope(OwnedEnvelope):
    name_attr = None
    related_paths = ("pipeline", "stack")
    resources_always = True

    def metadata(self, build) -> dict:
        return {
            "pipeline": nested(PipelineEnvelope, build.pipeline, self),
            "stack": nested(StackEnvelope, build.stack, self),
            "images": build.images,
            "zenml_version": build.zenml_version,
            "python_version": build.python_version,
            "checksum": build.checksum,
            "stack_checksum": build.stack_checksum,
            "is_local": build.is_local,
            "contains_code": build.contains_code,
            "duration": build.duration,
        }

    def resources(self, build) -> dict:
        return {"user": nested_user(build.user)}

    @classmethod
    def prefetch(cls, queryset, hydrate):
        return queryset.select_related("user", "pipeline", "stack")


class ScheduleEnvelope(PageEnvelope):
    def load(self, schedules):
        self.run_metadata = {}
        if self.hydrate:
            self.run_metadata = run_metadata_by_resource(MetadataResourceType.SCHEDULE, [s.pk for s in schedules])

    def body(self, schedule) -> dict:
        interval = schedule.interval_second
        return {
            **super().body(schedule),
            "active": schedule.active,
            "cron_expression": schedule.cron_expression,
            "start_time": ts(schedule.start_time),
            "end_time": ts(schedule.end_time),
            "interval_second": None if interval is None else duration_iso_string(interval),
            "catchup": schedule.catchup,
            "run_once_start_time": ts(schedule.run_once_start_time),
            "is_archived": schedule.is_archived,
        }

    def metadata(self, schedule) -> dict:
        return {
            "orchestrator_id": id_or_none(schedule.orchestrator_id),
            "pipeline_id": id_or_none(schedule.pipeline_id),
            "run_metadata": self.run_metadata.get(schedule.pk, {}),
        }

    def resources(self, schedule) -> dict:
        return {"user": nested_user(schedule.user)}

    @classmethod
    def prefetch(cls, queryset, hydrate):
        return queryset.select_related("user")


class SnapshotEnvelope(PageEnvelope):
    """`step_names`, when given, limits the step configurations shown (`step_configuration_filter`)."""

    related_paths = ("pipeline", "stack", "build", "schedule", "code_reference")

    def __init__(self, request=None, hydrate=False, step_names=None, include_config_schema=True):
        super().__init__(request, hydrate)
        self.step_names = step_names
        self.include_config_schema = include_config_schema

    def load(self, snapshots):
        self.tags = tags_by_resource(TaggableResourceType.PIPELINE_SNAPSHOT, [s.pk for s in snapshots])
        self.users = latest_run_users(snapshots)

    def body(self, snapshot) -> dict:
        runnable = snapshot.build is not None and not snapshot.build.is_local
        return {
            **super().body(snapshot),
            "runnable": runnable,
            "deployable": False,
            "is_dynamic": snapshot.is_dynamic,
            "pipeline_id": id_or_none(snapshot.pipeline_id),
        }

    def metadata(self, snapshot) -> dict:
        steps = snapshot.ordered_step_configurations()
        if self.step_names is not None:
            steps = {name: step for name, step in steps.items() if name in self.step_names}
        return {
            "description": snapshot.description,
            "source_code": snapshot.source_code,
            "run_name_template": snapshot.run_name_template,
            "pipeline_configuration": snapshot.pipeline_configuration,
            "step_configurations": steps,
            "client_environment": without_packages(snapshot.client_environment),
            "client_version": snapshot.client_version,
            "server_version": snapshot.server_version,
            "pipeline_version_hash": snapshot.pipeline_version_hash,
            "pipeline_spec": snapshot.pipeline_spec,
            "code_path": snapshot.code_path,
            "template_id": id_or_none(snapshot.template_id),
            "source_snapshot_id": id_or_none(snapshot.source_snapshot_id),
            "config_template": snapshot.config_template,
            "config_schema": snapshot.config_schema if self.include_config_schema else None,
        }

    def resources(self, snapshot) -> dict:
        return {
            "user": nested_user(snapshot.user),
            "pipeline": nested(PipelineEnvelope, snapshot.pipeline, self),
            "stack": nested(StackEnvelope, snapshot.stack, self),
            "build": nested(PipelineBuildEnvelope, snapshot.build, self),
            "schedule": nested(ScheduleEnvelope, snapshot.schedule, self),
            "code_reference": nested(CodeReferenceEnvelope, snapshot.code_reference, self),
            "deployment": None,
            "tags": [TagEnvelope(self.request).render(tag) for tag in self.tags.get(snapshot.pk, [])],
            "latest_run_id": id_or_none(getattr(snapshot, "latest_run_id", None)),
            "latest_run_status": getattr(snapshot, "latest_run_status", None),
            "latest_run_user": nested_user(self.users.get(getattr(snapshot, "latest_run_user_id", None))),
            "visualizations": [],
        }

    @classmethod
    def prefetch(cls, queryset, hydrate):
        queryset = queryset.select_related(
            "user", "pipeline", "stack", "build", "schedule", "code_reference__code_repository"
        )
        queryset = with_latest_run(queryset, "snapshot")
        return queryset if hydrate else queryset.defer(*SNAPSHOT_HEAVY, "pipeline_configuration", "client_environment")
