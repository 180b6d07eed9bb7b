"""A tenant's server settings (read by its members, changed by its admins) and the first-run
activation that gives a tenant nobody administers its first admin (wire.md section 4)."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from core.api.exceptions import EntityExistsError, EntityNotFound, IllegalOperationError
from core.api.timestamps import ts
from core.api.validation import invalid, validate_body
from core.api.views import ZenViewSet, hydrate_param
from tenants import rbac, services
from tenants.api.envelopes import UserEnvelope
from tenants.models import User


def settings_response(tenant, hydrate: bool) -> dict:
    body = {
        "server_id": str(tenant.pk),
        "server_name": tenant.name,
        "logo_url": tenant.logo_url,
        "active": tenant.active,
        "enable_analytics": False,
        "display_announcements": tenant.display_announcements,
        "display_updates": tenant.display_updates,
        "last_user_activity": ts(tenant.last_user_activity or tenant.updated),
        "updated": ts(tenant.updated),
    }
    return {"body": body, "metadata": {} if hydrate else None, "resources": {} if hydrate else None}


@api_view(["GET", "PUT"])
def server_settings(request):
    tenant = request.tenant
    if request.method == "PUT":
        if not rbac.is_tenant_admin(request.user, tenant):
            raise IllegalOperationError("Only the tenant's admins may change its settings.")
        validate_body(request.data, "ServerSettingsUpdate", f"PUT {request.path}")
        tenant = _settings_saved(tenant, request.data)
    return Response(settings_response(tenant, hydrate_param(request, request.method == "PUT")))


def _settings_saved(tenant, data):
    try:
        return services.update_settings(tenant, data)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise invalid(field, " ".join(messages), data) from None


@api_view(["PUT"])
@authentication_classes([])
@permission_classes([AllowAny])
def activate(request):
    """Unauthenticated, as on the real server, and only for a tenant nobody belongs to yet. Unlike
    the real server MLMeta needs the admin's credentials: creating that admin is all it does."""
    tenant = request.tenant
    if tenant is None:
        raise EntityNotFound("No tenant is served at this URL.")
    data = request.data
    validate_body(data, "ServerActivationRequest", f"PUT {request.path}")
    refuse_activated(tenant)
    for field in ("admin_username", "admin_password"):
        if not data.get(field):
            raise invalid(field, "MLMeta activates a tenant by creating its first admin; this is required.", None)
    admin = _new_admin(data["admin_username"], data["admin_password"])
    if User.objects.filter(username=admin.username).exists():
        raise EntityExistsError(f"User with name `{admin.username}` already exists.")
    try:
        activated = services.activate(tenant, admin, data)
    except IntegrityError:
        raise EntityExistsError(f"User with name `{admin.username}` already exists.") from None
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise invalid(field, " ".join(messages), data) from None
    if not activated:
        refuse_activated(tenant)
    return Response(UserEnvelope(request, hydrate=True).render(admin))


def refuse_activated(tenant) -> None:
    if services.has_admin(tenant):
        raise IllegalOperationError("The server has already been activated.")
    if services.is_activated(tenant):
        raise IllegalOperationError(
            "This tenant already has members; an operator makes one of them its admin (is_admin in the admin)."
        )


def _new_admin(username: str, password: str) -> User:
    admin = User(username=username, is_active=True)
    ZenViewSet.clean(admin, exclude=("password",))
    try:
        validate_password(password, admin)
    except ValidationError as exc:
        raise invalid("admin_password", " ".join(exc.messages)) from None
    admin.set_password(password)
    return admin
