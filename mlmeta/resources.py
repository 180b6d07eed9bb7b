"""Resources addressed by (type, id) pairs, as tags and run metadata address them.

`find_resource()` is the one place that turns such a pair into a row of the request's tenant,
through the restricted queryset of its model, so a reference to another tenant's row is a 404.
"""

import uuid

from core.api.exceptions import EntityNotFound, IllegalOperationError
from core.api.validation import parse_uuid
from core.signals import access_denied
from mlmeta.models import (
    Artifact,
    ArtifactVersion,
    Model,
    ModelVersion,
    Pipeline,
    PipelineRun,
    PipelineSnapshot,
    Schedule,
    StepRun,
)
from tenants.models import Project

MODELS = {
    "artifact": Artifact,
    "artifact_version": ArtifactVersion,
    "model": Model,
    "model_version": ModelVersion,
    "pipeline": Pipeline,
    "pipeline_run": PipelineRun,
    "pipeline_snapshot": PipelineSnapshot,
    "schedule": Schedule,
    "step_run": StepRun,
}

LABELS = {
    "pipeline_run": "pipeline run",
    "step_run": "step run",
    "artifact_version": "artifact version",
    "model_version": "model version",
    "pipeline_snapshot": "snapshot",
    "run_template": "run template",
}


def find_resource(tenant, user, resource_type: str, resource_id: uuid.UUID, action: str = "read", request=None):
    """The row `resource_id` of `resource_type` in `tenant` that `user` may act on: a 404 when
    they cannot see it, a 403 (audited with `request`) when they see it but may not `action` it.

    Types MLMeta stores no rows for (run templates, deployments, wait conditions) never resolve.
    """
    model = MODELS.get(resource_type)
    found = None
    label = LABELS.get(resource_type, resource_type.replace("_", " "))
    if model is not None:
        found = model.objects.restrict(user, action).filter(tenant=tenant, pk=resource_id).first()
        if found is None and action != "read":
            _refuse_if_readable(model, tenant, user, resource_id, action, label, request)
    if found is None:
        raise EntityNotFound(f"Unable to get {label} with ID '{resource_id}': No {label} with this ID found")
    return found


def _refuse_if_readable(model, tenant, user, resource_id, action, label, request) -> None:
    if model.objects.restrict(user).filter(tenant=tenant, pk=resource_id).exists():
        if request is not None:
            access_denied.send(sender=model, request=request, action=action, resource_id=resource_id)
        raise IllegalOperationError(f"Insufficient permissions to {action} this {label}.")


def find_project(tenant, user, project_id, field: str = "project"):
    """The project `project_id` (a UUID from a request body) of `tenant`, or a 404."""
    pk = parse_uuid(project_id, field)
    project = Project.objects.restrict(user).filter(tenant=tenant, pk=pk).first()
    if project is None:
        raise EntityNotFound(f"Unable to get project with ID '{pk}': No project with this ID found")
    return project
