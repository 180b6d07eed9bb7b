"""Ids in request bodies resolved to rows the caller may use: always through `restrict()` and the
request's tenant, so an id from another tenant is simply not found (404), and a row the caller
may read but not act on as asked is refused (403, audited)."""

import uuid

from core.api.exceptions import EntityNotFound, IllegalOperationError
from core.api.validation import parse_uuid
from core.signals import access_denied
from tenants.models import Project


def restricted(request, model, action: str = "read"):
    return model.objects.restrict(request.user, action).filter(tenant=request.tenant)


def not_found(label: str, pk) -> EntityNotFound:
    return EntityNotFound(f"Unable to get {label} with ID '{pk}': No {label} with this ID found")


def refuse_if_readable(request, model, pk, action: str, label: str) -> None:
    """403 (and an audit event) when the caller may read row `pk` but not `action` it."""
    if action != "read" and restricted(request, model).filter(pk=pk).exists():
        access_denied.send(sender=model, request=request, action=action, resource_id=pk)
        raise IllegalOperationError(f"Insufficient permissions to {action} this {label}.")


def resolve(request, model, value, field: str, label: str, action: str = "read", select=()):
    """The row with id `value` (None stays None), with its `select` relations loaded; 404 when
    the caller cannot see it, 403 when they see it but may not `action` it."""
    pk = parse_uuid(value, field)
    if pk is None:
        return None
    obj = restricted(request, model, action).select_related(*select).filter(pk=pk).first()
    if obj is None:
        refuse_if_readable(request, model, pk, action, label)
        raise not_found(label, pk)
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


def resolve_in_project(request, model, value, field: str, label: str, project, select=()):
    """Like `resolve`, for rows that must also belong to `project`."""
    obj = resolve(request, model, value, field, label, select=select)
    if obj is not None and obj.project_id != project.pk:
        raise EntityNotFound(f"Unable to get {label} with ID '{obj.pk}': it belongs to another project")
    return obj
