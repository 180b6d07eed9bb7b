"""The long-lived objects the demo runs hang off: pipelines with one snapshot each, artifacts,
models, tags, a schedule and a code repository. Created once per project, found on re-runs."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from mlmeta.choices import ModelStage, StackComponentType, TaggableResourceType
from mlmeta.demo import catalog
from mlmeta.models import (
    Artifact,
    CodeReference,
    CodeRepository,
    Model,
    ModelVersion,
    Pipeline,
    PipelineSnapshot,
    Schedule,
    Stack,
    StackComponent,
    Tag,
    TagResource,
)
from mlmeta.seeding import seed_tenant
from tenants.models import Project, User


@dataclass
class Fixtures:
    project: Project
    user: User | None
    stack: Stack
    orchestrator: StackComponent
    artifact_store: StackComponent
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    snapshots: dict[str, PipelineSnapshot] = field(default_factory=dict)
    artifacts: dict[tuple[str, str, str], Artifact] = field(default_factory=dict)  # (pipeline, step, output)
    models: dict[str, Model] = field(default_factory=dict)
    tags: list[Tag] = field(default_factory=list)
    schedule: Schedule | None = None

    @property
    def tenant_id(self):
        return self.project.tenant_id

    @property
    def store_path(self) -> str:
        """Where the client keeps the default (local) artifact store's files."""
        return f"/home/zenml/.config/zenml/local_stores/{self.artifact_store.id}"


def ensure_fixtures(project, user) -> Fixtures:
    seed_tenant(project.tenant)  # the default stack the runs use, in case the tenant lost it
    stack = Stack.objects.get(tenant_id=project.tenant_id, name="default")
    components = {c.type: c for c in stack.components.all()}
    fx = Fixtures(
        project=project,
        user=user,
        stack=stack,
        orchestrator=components[StackComponentType.ORCHESTRATOR],
        artifact_store=components[StackComponentType.ARTIFACT_STORE],
    )
    since = timezone.now() - timedelta(days=60)
    fx.tags = [_get_or_create(Tag, fx, {"name": name}, color=color, project=False) for name, color in catalog.TAGS]
    for name, card in catalog.MODELS.items():
        fx.models[name] = _get_or_create(Model, fx, {"name": name}, created=since, **card)
    _ensure_registry_versions(fx, fx.models["sentiment_bert"], since)
    reference = _ensure_code_reference(fx, since)
    for definition in catalog.PIPELINES:
        _ensure_pipeline(fx, definition, reference, since)
    return fx


def _get_or_create(model, fx: Fixtures, lookup: dict, project=True, **defaults):
    scope = {"project": fx.project} if project else {"tenant_id": fx.tenant_id}
    defaults.setdefault("user", fx.user)
    obj, _ = model.objects.get_or_create(**scope, **lookup, defaults={"tenant_id": fx.tenant_id, **defaults})
    return obj


def _ensure_pipeline(fx: Fixtures, definition: catalog.PipelineDef, reference, since) -> None:
    pipeline = _get_or_create(
        Pipeline, fx, {"name": definition.name}, description=definition.description, created=since
    )
    fx.pipelines[definition.name] = pipeline
    if definition.scheduled:
        fx.schedule = _get_or_create(
            Schedule,
            fx,
            {"name": f"{definition.name}-nightly"},
            pipeline=pipeline,
            cron_expression="0 2 * * *",
            start_time=since,
            orchestrator=fx.orchestrator,
            created=since,
        )
    fields = catalog.snapshot_fields(definition)
    snapshot = PipelineSnapshot.objects.filter(
        pipeline=pipeline, pipeline_version_hash=fields["pipeline_version_hash"]
    ).first()
    if snapshot is None:
        snapshot = PipelineSnapshot.objects.create(
            project=fx.project,
            user=fx.user,
            pipeline=pipeline,
            stack=fx.stack,
            schedule=fx.schedule if definition.scheduled else None,
            code_reference=reference,
            code_path=f"pipelines/{definition.name}.py",
            created=since,
            **fields,
        )
    fx.snapshots[definition.name] = snapshot
    for step in definition.steps:
        for output in step.outputs:
            name = definition.artifact_name(step.name, output.name)
            fx.artifacts[definition.name, step.name, output.name] = _get_or_create(
                Artifact, fx, {"name": name}, created=since
            )
    if definition.model:
        _tag(fx, "experiment", TaggableResourceType.PIPELINE, pipeline.id)


def _ensure_code_reference(fx: Fixtures, since) -> CodeReference:
    repository = _get_or_create(
        CodeRepository,
        fx,
        {"name": "churn-ml"},
        config={"owner": "acme", "repository": "churn-ml", "host": "github.com", "token": None},
        source=catalog.source(
            "zenml.integrations.github.code_repositories.github_code_repository", "GitHubCodeRepository"
        ),
        description="Churn models and data pipelines.",
        created=since,
    )
    return _get_or_create(
        CodeReference, fx, {"code_repository": repository, "commit": "4f1c2a9d7be0a3e58c61d2f0b9e47a1c3d5e8f20"}
    )


def _ensure_registry_versions(fx: Fixtures, model: Model, since) -> None:
    """A model maintained outside these pipelines: a few versions with stages, created once."""
    if model.versions.exists():
        return
    for stage, description in (
        (ModelStage.ARCHIVED, "bert-base, 3 epochs"),
        (ModelStage.PRODUCTION, "bert-base, 5 epochs, label smoothing"),
        (ModelStage.STAGING, "distilbert, 5 epochs: 40% faster, -0.6 F1"),
    ):
        ModelVersion.objects.create(
            project=fx.project, user=fx.user, model=model, stage=stage, description=description, created=since
        )


def _tag(fx: Fixtures, tag_name: str, resource_type: str, resource_id) -> None:
    tag = next(tag for tag in fx.tags if tag.name == tag_name)
    TagResource.objects.get_or_create(tag=tag, resource_type=resource_type, resource_id=resource_id)
