"""Writing the audit trail: `record()` is the one way an AuditEvent is made.

Callers pass the request (API, control plane, admin, dashboard) or nothing (commands, tasks);
the actor, IP address and user agent come from the request. `changes` holds field names and
values that are not secret: values of fields named like secrets are replaced by "***".
"""

import logging

from tenants.models import AuditEvent

logger = logging.getLogger(__name__)

SECRET_WORDS = ("password", "secret", "token", "key_hash", "values", "value", "private_key", "api_key")
MASK = "***"


def _client_ip(request):
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def mask(changes: dict | None) -> dict:
    """`changes` with the values of secret-looking fields hidden (their names are kept)."""
    out = {}
    for name, value in (changes or {}).items():
        if any(word in str(name).lower() for word in SECRET_WORDS):
            out[name] = MASK
        elif isinstance(value, dict):
            out[name] = mask(value)
        else:
            out[name] = value if isinstance(value, (str, int, float, bool, type(None), list)) else str(value)
    return out


def record(
    action: str,
    *,
    request=None,
    actor=None,
    obj=None,
    resource_type: str = "",
    resource_id="",
    resource_name: str = "",
    tenant=None,
    organization=None,
    changes: dict | None = None,
    via: str = "",
    detail: str = "",
) -> AuditEvent:
    """Append one event. `obj` fills the resource fields and the tenant when it has them."""
    django_request = getattr(request, "_request", request)
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        actor = user if getattr(user, "is_authenticated", False) else None
    if obj is not None:
        resource_type = resource_type or _type_of(obj)
        resource_id = resource_id or obj.pk
        resource_name = resource_name or str(obj)[:255]
        tenant = tenant or _tenant_of(obj)
    if tenant is None and django_request is not None:
        tenant = getattr(django_request, "tenant", None)
    if organization is None:
        organization = getattr(tenant, "organization_id", None) or getattr(obj, "organization_id", None)
    event = AuditEvent(
        organization_id=getattr(organization, "pk", organization),
        tenant_id=getattr(tenant, "pk", tenant),
        actor_id=getattr(actor, "pk", None),
        actor_name=(getattr(actor, "username", "") or "")[:255],
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id or "")[:64],
        resource_name=(resource_name or "")[:255],
        via=via or _via(django_request),
        ip_address=_client_ip(django_request),
        user_agent=(django_request.META.get("HTTP_USER_AGENT", "") if django_request is not None else "")[:512],
        changes=mask(changes),
        detail=detail[:512],
    )
    event.save()
    return event


def _type_of(obj) -> str:
    from tenants.rbac import shape

    try:
        return shape(type(obj)).type
    except AttributeError:
        return obj._meta.model_name


def _tenant_of(obj):
    if type(obj).__name__ == "Tenant":
        return obj
    return getattr(obj, "tenant_id", None)


def _via(request) -> str:
    if request is None:
        return "command"
    path = request.path_info or ""
    for prefix, via in (("/api/v1", "api"), ("/api/control", "control"), ("/admin", "admin")):
        if path.startswith(prefix):
            return via
    return "dashboard"


def changed_fields(before: dict, after: dict) -> dict:
    """{field: [old, new]} for the fields whose value differs."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


def on_access_denied(sender, request, action, resource_id="", **kwargs):
    from tenants.rbac import shape

    record(
        "permission_denied",
        request=request,
        resource_type=shape(sender).type,
        resource_id=resource_id or "",
        detail=f"{action}: {request.method} {request.path}",
    )
