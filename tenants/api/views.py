"""Server info, authentication and projects of the ZenML API."""

from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in
from django.db import connection
from django.utils import timezone
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.exceptions import CredentialsNotValid, EntityNotFound, IllegalOperationError, ZenError
from core.api.timestamps import ts
from core.api.validation import invalid, parse_uuid
from core.api.views import ZenViewSet
from tenants import audit, lockout, rbac, tokens
from tenants.api import grants
from tenants.api.envelopes import ProjectEnvelope
from tenants.api.filtersets import ProjectFilterSet
from tenants.authentication import cookie_name
from tenants.models import Project

PASSWORD_GRANT = "password"
API_KEY_GRANT = "zenml-api-key"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _database_type() -> str:
    return "sqlite" if connection.vendor == "sqlite" else "other"


def server_info(request) -> dict:
    tenant = request.tenant
    base = request.build_absolute_uri("/").rstrip("/")
    last_activity = tenant.last_user_activity if tenant else None
    return {
        "id": str(tenant.pk) if tenant else None,
        "name": tenant.name if tenant else "mlmeta",
        "version": settings.ZENML_API_VERSION,
        "active": tenant is not None and tenant.active,
        "debug": settings.DEBUG,
        "deployment_type": "other",
        "database_type": _database_type(),
        "secrets_store_type": "sql",
        "auth_scheme": "OAUTH2_PASSWORD_BEARER",
        "server_url": base,
        "dashboard_url": base,
        "analytics_enabled": False,
        "metadata": {"mlmeta_version": settings.MLMETA_VERSION, "tenant": tenant.slug if tenant else None},
        "last_user_activity": ts(last_activity or timezone.now()),
        "pro_dashboard_url": None,
        "pro_api_url": None,
        "pro_organization_id": None,
        "pro_organization_name": None,
        "pro_workspace_id": None,
        "pro_workspace_name": None,
    }


@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def info(request):
    return Response(server_info(request))


@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def version(request):
    return Response(settings.ZENML_API_VERSION)


def token_response(token: str, **extra) -> dict:
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": settings.JWT_EXPIRE_SECONDS,
        "refresh_token": None,
        "csrf_token": None,
        "scope": None,
        "device_id": None,
        "device_metadata": None,
        **extra,
    }


class LoginView(APIView):
    """OAuth2 token endpoint (`POST /api/v1/login`, form-encoded): password, API-key and device grants."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, MultiPartParser, JSONParser]

    def post(self, request):
        tenant = request.tenant
        if tenant is None:
            raise CredentialsNotValid("no tenant is set up on this server")
        if not hasattr(request.data, "getlist"):
            return Response({"detail": "Invalid request: username is required."}, status=400)
        grant = request.data.get("grant_type") or PASSWORD_GRANT
        if grant == PASSWORD_GRANT:
            return self.password_grant(request, tenant)
        if grant == API_KEY_GRANT:
            return self.api_key_grant(request, tenant)
        if grant == DEVICE_GRANT:
            return self.device_grant(request, tenant)
        return Response({"detail": f"Unsupported grant type: {grant}"}, status=400)

    def api_key_grant(self, request, tenant):
        try:
            token = grants.api_key_token(request, tenant)
        except CredentialsNotValid:
            audit.login_failed(request, grants.key_label(request.data.get("password")), "invalid API key")
            raise
        type(tenant).objects.filter(pk=tenant.pk).update(last_user_activity=timezone.now())
        return Response(token_response(token))

    def device_grant(self, request, tenant):
        try:
            token, lifetime = grants.device_token(request, tenant)
        except grants.OAuthError as exc:
            if exc.code not in grants.DEVICE_WAITING:
                audit.login_failed(request, request.data.get("client_id") or "", f"device grant: {exc}")
            return exc.response()
        type(tenant).objects.filter(pk=tenant.pk).update(last_user_activity=timezone.now())
        return Response(token_response(token, expires_in=lifetime))

    def password_grant(self, request, tenant):
        username = request.data.get("username")
        if not username:
            return Response({"detail": "Invalid request: username is required."}, status=400)
        user = authenticate(request._request, username=username, password=request.data.get("password") or "")
        if user is None and lockout.locked_out(request):
            raise ZenError(lockout.message(), "AuthorizationException", status_code=429)
        if user is None:  # audited by the user_login_failed signal
            raise CredentialsNotValid("invalid username or password")
        if user.is_service_account or not rbac.may_use_tenant(user, tenant):
            audit.login_failed(request, username, "not a member of this tenant")
            raise CredentialsNotValid("invalid username or password")
        request._request.login_detail = "password grant"
        user_logged_in.send(sender=type(user), request=request._request, user=user)  # audited, counters reset
        token = tokens.issue(user, tenant)
        type(tenant).objects.filter(pk=tenant.pk).update(last_user_activity=timezone.now())
        response = Response(token_response(token))
        response.set_cookie(
            cookie_name(tenant),
            token,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
            max_age=settings.JWT_EXPIRE_SECONDS,
        )
        return response


@api_view(["GET", "POST"])
def logout(request):
    audit.record("logout", request=request, obj=request.user, resource_type="user")
    response = Response(None)
    response.delete_cookie(cookie_name(request.tenant), samesite="Lax")
    return response


@api_view(["GET"])
def api_token(request):
    """Short-lived tokens: `generic` (with `expires_in`) and `workload` (bound to a pipeline run)."""
    token_type = request.query_params.get("token_type", "generic")
    claims = getattr(request._request, "token_claims", None) or {}
    inherited = {key: claims.get(key) for key in ("device_id", "api_key_id", "key_gen")}
    if token_type == "generic":
        raw = request.query_params.get("expires_in") or "3600"
        if not raw.isdigit() or not 0 < int(raw) <= 86400:
            raise invalid("expires_in", "Input should be between 1 and 86400 seconds", raw, "query")
        return Response(tokens.issue(request.user, request.tenant, expires_in=int(raw), **inherited))
    if token_type == "workload":
        run_id = parse_uuid(request.query_params.get("pipeline_run_id"), "pipeline_run_id", "query")
        if run_id is None:
            raise invalid("pipeline_run_id", "A workload token needs pipeline_run_id", None, "query")
        return Response(tokens.issue(request.user, request.tenant, pipeline_run_id=run_id, **inherited))
    raise invalid("token_type", "Input should be 'generic' or 'workload'", token_type, "query")


class ProjectViewSet(ZenViewSet):
    model = Project
    envelope_class = ProjectEnvelope
    filterset_class = ProjectFilterSet
    create_schema = "ProjectRequest"
    update_schema = "ProjectUpdate"
    label = "project"
    unique_message = "Project with name `{name}` already exists."

    def get_object(self, queryset=None):
        """Projects may be addressed by id or by name (`zenml project set NAME`)."""
        raw = str(self.kwargs[self.lookup_url_kwarg])
        queryset = queryset if queryset is not None else self.get_queryset()
        try:
            parse_uuid(raw, "project_name_or_id", "path")
        except Exception:
            project = queryset.filter(name=raw).first()
            if project is None:
                raise EntityNotFound(f"Unable to get project with name '{raw}': No project found") from None
            return project
        return super().get_object(queryset)

    def perform_create(self, data):
        project = Project(
            tenant=self.request.tenant,
            user=self.request.user,
            name=data["name"],
            display_name=data.get("display_name") or data["name"],
            description=data.get("description") or "",
            project_metadata=data.get("project_metadata") or {},
        )
        self.clean(project, exclude=("tenant", "user"))
        project.save()
        return project

    def perform_update(self, project, data):
        for field in ("name", "display_name", "description", "project_metadata"):
            if data.get(field) is not None:
                setattr(project, field, data[field])
        self.clean(project, exclude=("tenant", "user"))
        project.save()
        return project

    def perform_destroy(self, project):
        if project.name == "default" and Project.objects.filter(tenant=project.tenant).count() == 1:
            raise IllegalOperationError("The last project of a tenant cannot be deleted.")
        project.delete()
