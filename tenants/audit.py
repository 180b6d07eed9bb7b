"""Writing the audit trail: `record()` is the one way an AuditEvent is made.

Callers pass the request (API, control plane, admin, dashboard) or nothing (commands, tasks);
the actor, IP address and user agent come from the request. Code that has no request at hand
but runs inside one (tenants.access called from a view) finds it through `bound()`, which
AuditMiddleware sets around every request. `changes` holds field names and values that are not
secret: values of fields named like secrets are replaced by "***", long values are cut.

The receivers below turn signals into events: API writes (core.signals.resource_changed),
refusals (access_denied), dashboard logins and logouts (django.contrib.auth), lockouts
(django-axes). `record_unaudited_write()` is the safety net for API writes that recorded
nothing themselves.
"""

import contextlib
import contextvars
import datetime
import decimal
import logging
import re
import uuid

from django.db import transaction

from tenants.models import AuditEvent

logger = logging.getLogger(__name__)

SECRET_WORDS = (
    "password",
    "secret",
    "token",
    "hash",
    "values",
    "value",
    "private_key",
    "api_key",
    "credential",
)
MASK = "***"
# Events about something refused: they must outlive the rollback of the transaction they happen in.
SURVIVE_ROLLBACK = ("permission_denied", "login_failed")
MAX_VALUE = 200  # characters kept of one value in `changes`

_request = contextvars.ContextVar("audit_request", default=None)


@contextlib.contextmanager
def bound(request):
    """Within this block, `record()` without a request uses `request` (the middleware's)."""
    token = _request.set(request)
    try:
        yield
    finally:
        _request.reset(token)


def _client_ip(request):
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def _is_secret(name) -> bool:
    return any(word in str(name).lower() for word in SECRET_WORDS)


def _plain(value):
    """`value` as JSON can hold it, strings cut to MAX_VALUE characters."""
    if isinstance(value, dict):
        return mask(value)
    if isinstance(value, (list, tuple, set)):
        return [_plain(item) for item in list(value)[:50]]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…"


def mask(changes: dict | None) -> dict:
    """`changes` with the values of secret-looking fields hidden (their names are kept)."""
    return {name: MASK if _is_secret(name) else _plain(value) for name, value in (changes or {}).items()}


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
    django_request = getattr(request, "_request", request) or _request.get()
    if actor is None and django_request is not None:
        user = getattr(request, "user", None) or getattr(django_request, "user", None)
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
    if action in SURVIVE_ROLLBACK and django_request is not None and transaction.get_connection().in_atomic_block:
        # Written by AuditMiddleware once the request's transactions are over, so the refusal that
        # rolls a transaction back does not take its own record with it.
        django_request.pending_audit = [*getattr(django_request, "pending_audit", ()), event]
    else:
        event.save()
    if django_request is not None:
        django_request.audit_events = getattr(django_request, "audit_events", 0) + 1
    return event


def flush_pending(request) -> None:
    """Write the events `record()` held back while a transaction was open (see SURVIVE_ROLLBACK)."""
    for event in getattr(request, "pending_audit", ()):
        event.save()
    request.pending_audit = []


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


# --- receivers ------------------------------------------------------------------------------
def on_access_denied(sender, request, action, resource_id="", **kwargs):
    from tenants.rbac import shape

    record(
        "permission_denied",
        request=request,
        resource_type=shape(sender).type,
        resource_id=resource_id or "",
        detail=f"{action}: {request.method} {request.path}",
    )


def on_resource_changed(sender, request, action, obj, resource_id=None, resource_type=None, changes=None, **kwargs):
    """An /api/v1 create, update or delete (core.api.views.ZenViewSet)."""
    record(
        action, request=request, obj=obj, resource_id=resource_id, resource_type=resource_type or "", changes=changes
    )


def login(request, user, detail: str = "") -> AuditEvent:
    """A successful login of `user` (dashboard, API grants, SSO)."""
    return record("login", request=request, actor=user, obj=user, resource_type="user", detail=detail)


def login_failed(request, username: str, detail: str = "") -> AuditEvent:
    """A refused login; the attempted username is kept (never the password or key)."""
    return record(
        "login_failed",
        request=request,
        actor=None,
        resource_type="user",
        resource_name=(username or "")[:255],
        detail=detail or f"login refused for '{username}'",
    )


def on_user_logged_in(sender, request, user, **kwargs):
    if request is not None:
        login(request, user, detail=getattr(request, "login_detail", "password"))


def on_user_logged_out(sender, request, user, **kwargs):
    if request is not None and user is not None:
        record("logout", request=request, actor=user, obj=user, resource_type="user")


def on_user_login_failed(sender, credentials, request=None, **kwargs):
    """Wrong password, unknown or inactive user. A refusal during a lockout is the lockout's event."""
    if request is None or getattr(request, "lockout_audited", False):
        return
    login_failed(request, credentials.get("username") or "", "wrong username or password")


def on_user_locked_out(sender, request, username=None, ip_address=None, **kwargs):
    """django-axes refused a login: too many failures for this username or from this address."""
    request = getattr(request, "_request", request)
    if request is None:
        return
    request.lockout_audited = True
    login_failed(request, username or "", f"locked out after too many failed logins (username or IP {ip_address})")


# --- the safety net ---------------------------------------------------------------------------
WRITE_METHODS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


def record_unaudited_write(request, response) -> AuditEvent | None:
    """For a successful POST/PUT/PATCH/DELETE under /api/ that recorded no event itself (custom
    endpoints: stopping a run, rotating a key, ...): an event naming the method, path and status."""
    path = request.path_info or ""
    action = WRITE_METHODS.get(request.method)
    if action is None or not path.startswith("/api/") or not 200 <= response.status_code < 300:
        return None
    if getattr(request, "audit_events", 0):
        return None
    parts = [part for part in path.split("/") if part]
    ids = [part for part in parts if _UUID.match(part)]
    resource = parts[2] if len(parts) > 2 else path
    return record(
        action,
        request=request,
        resource_type=resource[:64],
        resource_id=ids[0] if ids else "",
        detail=f"{request.method} {path} -> {response.status_code}",
    )


def command(action: str, obj, command_name: str, detail: str = "", **kwargs) -> AuditEvent:
    """A change made by `manage.py command_name` (no actor: whoever runs manage.py operates the
    deployment)."""
    detail = f"manage.py {command_name}" + (f": {detail}" if detail else "")
    return record(action, obj=obj, via="command", detail=detail, **kwargs)
