from django.db import transaction
from rest_framework.decorators import api_view
from rest_framework.response import Response

from core.api.exceptions import EntityNotFound
from core.api.validation import invalid, parse_uuid, validate_body
from mlmeta.models import RunMetadata, StackComponent, StepRun
from mlmeta.resources import find_project, find_resource


def _optional(model, request, raw, field, label):
    pk = parse_uuid(raw, field)
    if pk is None:
        return None
    found = model.objects.restrict(request.user).filter(tenant=request.tenant, pk=pk).first()
    if found is None:
        raise EntityNotFound(f"Unable to get {label} with ID '{pk}': No {label} with this ID found")
    return found


@api_view(["POST"])
def run_metadata(request):
    """Log key/values against runs, steps, artifact versions, model versions or schedules (→ `null`)."""
    data = request.data
    validate_body(data, "RunMetadataRequest", f"{request.method} {request.path}")
    project = find_project(request.tenant, request.user, data["project"])
    component = _optional(StackComponent, request, data.get("stack_component_id"), "stack_component_id", "component")
    publisher = _optional(StepRun, request, data.get("publisher_step_id"), "publisher_step_id", "step run")
    values, types = data["values"], data["types"]
    untyped = sorted(set(values) - set(types))
    if untyped:
        raise invalid("types", f"No type given for the metadata keys {', '.join(untyped)}", types)
    targets = [
        find_resource(
            request.tenant, request.user, item["type"], parse_uuid(item["id"], "resources.id"), "update", request
        )
        for item in data["resources"]
    ]
    rows = [
        RunMetadata(
            tenant=request.tenant,
            project=project,
            user=request.user,
            resource_type=item["type"],
            resource_id=target.pk,
            key=key,
            value=value,
            type=types[key],
            stack_component=component,
            publisher_step=publisher,
        )
        for item, target in zip(data["resources"], targets, strict=True)
        for key, value in values.items()
    ]
    with transaction.atomic():
        RunMetadata.log(rows)
    return Response(None)
