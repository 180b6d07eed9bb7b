"""Ids in request bodies resolved to rows the caller may use: always through `restrict()` and the
request's tenant, so an id from another tenant is simply not found (404)."""

import uuid

from core.api.exceptions import EntityNotFound
from core.api.validation import parse_uuid
from tenants.models import Project


def restricted(request, model, action: str = "read"):
    return model.objects.restrict(request.user, action).filter(tenant=request.tenant)


def resolve(request, model, value, field: str, label: str, action: str = "read"):
    """The row with id `value` (None stays None); 404 when the caller cannot see it."""
    pk = parse_uuid(value, field)
    if pk is None:
        return None
    obj = restricted(request, model, action).filter(pk=pk).first()
    if obj is None:
        raise EntityNotFound(f"Unable to get {label} with ID '{pk}': No {label} with this ID found")
    return obj


def resolve_project(request, value) -> Project:
    """A project given by id or by name."""
    projects = restricted(request, Project)
    try:
        project = projects.filter(pk=uuid.UUID(str(value))).first()
    except ValueError:  # a name; one with a NUL character cannot exist (and PostgreSQL refuses to compare it)
        project = None if "\x00" in str(value) else projects.filter(name=value).first()
    if project is None:
        raise EntityNotFound(f"Unable to get project with name or ID '{value}': No project with this name or ID found")
    return project


def resolve_in_project(request, model, value, field: str, label: str, project):
    """Like `resolve`, for rows that must also belong to `project`."""
    obj = resolve(request, model, value, field, label)
    if obj is not None and obj.project_id != project.pk:
        raise EntityNotFound(f"Unable to get {label} with ID '{obj.pk}': it belongs to another project")
    return obj
