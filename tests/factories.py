"""Test data: one row of every model in a tenant (built on the personas of tests/conftest.py)."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import models
from django.utils import timezone

from mlmeta.choices import ExecutionStatus, MetadataResourceType, TaggableResourceType, VisualizationType
from mlmeta.models import (
    Artifact,
    ArtifactVersion,
    ArtifactVisualization,
    CodeReference,
    CodeRepository,
    Flavor,
    Logs,
    Model,
    ModelVersion,
    ModelVersionArtifact,
    ModelVersionPipelineRun,
    Pipeline,
    PipelineBuild,
    PipelineRun,
    PipelineSnapshot,
    RunMetadata,
    RunTemplate,
    Schedule,
    Stack,
    StackComponent,
    StepRun,
    StepRunInput,
    StepRunOutput,
    Tag,
    TagResource,
    Trigger,
)
from secrets_app.models import Secret, ServiceConnector
from tenants.models import Membership, Project, Tenant, User


@dataclass
class World:
    """A tenant, its member and one row of every model, by model class."""

    tenant: Tenant
    member: User
    rows: dict[type[models.Model], models.Model] = field(default_factory=dict)
    store: StackComponent | None = None  # the artifact store (rows[StackComponent] is the orchestrator)

    def __getitem__(self, model):
        return self.rows[model]

    def add(self, row):
        self.rows[type(row)] = row
        return row

    def ids(self) -> set[str]:
        return {str(row.pk) for row in (*self.rows.values(), self.store)}


def make_account(username: str, **extra) -> User:
    """A user without a usable password (tests log in with force_login)."""
    return User.objects.create_user(username, email=f"{username}@example.com", **extra)


def populate(tenant: Tenant, member: User) -> World:
    """One row of every model in `tenant`, created by `member`; names start with the tenant's slug."""
    slug = tenant.slug
    world = World(tenant=tenant, member=member)
    world.add(tenant.organization)
    world.add(member)
    world.add(Membership.objects.get(tenant=tenant, member=member))
    add = world.add
    project = add(Project.objects.create(tenant=tenant, name=f"{slug}-project", user=member))
    _stacks(world, slug)
    owned = {"project": project, "user": member}

    pipeline = add(Pipeline.objects.create(name=f"{slug}-training", **owned))
    repo = add(CodeRepository.objects.create(name=f"{slug}-repo", source={"module": "x.Repo"}, **owned))
    reference = add(CodeReference.objects.create(code_repository=repo, commit="0123456789abcdef", **owned))
    stack, orchestrator = world[Stack], world[StackComponent]
    build = add(PipelineBuild.objects.create(pipeline=pipeline, stack=stack, images={"img": "x"}, **owned))
    schedule = add(
        Schedule.objects.create(
            name=f"{slug}-nightly", pipeline=pipeline, orchestrator=orchestrator, cron_expression="0 3 * * *", **owned
        )
    )
    snapshot = add(
        PipelineSnapshot.objects.create(
            pipeline=pipeline,
            stack=stack,
            build=build,
            schedule=schedule,
            code_reference=reference,
            run_name_template=f"{slug}-run-{{date}}",
            pipeline_configuration={"name": pipeline.name, "enable_cache": True},
            step_configurations={"trainer": {"config": {"name": "trainer"}}},
            pipeline_spec={"steps": [{"name": "trainer"}]},
            **owned,
        )
    )
    add(RunTemplate.objects.create(name=f"{slug}-template", source_snapshot=snapshot, **owned))
    add(
        Trigger.objects.create(
            name=f"{slug}-on-failure",
            event="platform_event",
            action="run_snapshot",
            source_entity=f"pipeline:{pipeline.pk}",
            target_events="event:run_failed",
            **owned,
        )
    )
    model = add(Model.objects.create(name=f"{slug}-model", **owned))
    model_version = add(ModelVersion.objects.create(model=model, **owned))
    now = timezone.now()
    run = add(
        PipelineRun.objects.create(
            name=f"{slug}-run-1",
            pipeline=pipeline,
            snapshot=snapshot,
            stack=stack,
            status=ExecutionStatus.COMPLETED,
            start_time=now - timedelta(minutes=5),
            end_time=now,
            model_version=model_version,
            **owned,
        )
    )
    step = add(
        StepRun.objects.create(
            pipeline_run=run, name="trainer", status=ExecutionStatus.COMPLETED, start_time=run.start_time, **owned
        )
    )
    artifact = add(Artifact.objects.create(name=f"{slug}-dataset", **owned))
    version = add(
        ArtifactVersion.objects.create(
            artifact=artifact, uri=f"/store/{slug}/dataset", artifact_store=world.store, **owned
        )
    )
    add(ArtifactVisualization.objects.create(artifact_version=version, type=VisualizationType.HTML, uri="/v.html"))
    add(StepRunOutput.objects.create(step_run=step, artifact_version=version, name="output"))
    add(StepRunInput.objects.create(step_run=step, artifact_version=version, name="data"))
    add(Logs.objects.create(source="step", uri=f"/store/{slug}/logs", pipeline_run=run, step_run=step, **owned))
    add(
        RunMetadata.objects.create(
            resource_type=MetadataResourceType.PIPELINE_RUN,
            resource_id=run.pk,
            key=f"{slug}-accuracy",
            value=0.93,
            type="float",
            publisher_step=step,
            **owned,
        )
    )
    tag = add(Tag.objects.create(tenant=tenant, name=f"{slug}-tag", user=member))
    add(TagResource.objects.create(tag=tag, resource_type=TaggableResourceType.PIPELINE_RUN, resource_id=run.pk))
    add(ModelVersionArtifact.objects.create(model_version=model_version, artifact_version=version))
    add(ModelVersionPipelineRun.objects.create(model_version=model_version, pipeline_run=run))
    return world


def _stacks(world: World, slug: str) -> None:
    tenant, member = world.tenant, world.member
    owned = {"tenant": tenant, "user": member}
    for kind in ("orchestrator", "artifact_store"):
        flavor = Flavor.objects.create(name="local", type=kind, source=f"zenml.{kind}.LocalFlavor", **owned)
    world.add(flavor)
    world.add(Secret.objects.create(name=f"{slug}-secret", keys=["password"], **owned))
    connector = world.add(
        ServiceConnector.objects.create(
            name=f"{slug}-aws", connector_type="aws", auth_method="secret-key", resource_types=["s3-bucket"], **owned
        )
    )
    orchestrator = StackComponent.objects.create(
        name=f"{slug}-orchestrator", type="orchestrator", flavor_name="local", **owned
    )
    store = StackComponent.objects.create(
        name=f"{slug}-store", type="artifact_store", flavor_name="local", connector=connector, **owned
    )
    world.add(orchestrator)
    world.store = store
    stack = world.add(Stack.objects.create(name=f"{slug}-stack", **owned))
    stack.components.set([orchestrator, store])
