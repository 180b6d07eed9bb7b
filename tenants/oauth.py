"""MLMeta as an OAuth2 / OpenID Connect provider (django-oauth-toolkit): the claims it hands out,
and how its access tokens authenticate /api/v1 calls and which methods their scopes allow.

Scopes: `read` allows safe methods, `write` also writes, `admin` everything (writes to users,
service accounts, API keys, teams, roles and memberships need it). The token's user is still
subject to tenants.rbac: a scope only narrows what the user may do, it never widens it.
"""

from urllib.parse import parse_qs, urlsplit

from django.contrib.auth import views as auth_views
from django.http import JsonResponse
from django.urls import reverse
from oauth2_provider import views as dot_views
from oauth2_provider.contrib.rest_framework import OAuth2Authentication as DOTAuthentication
from oauth2_provider.models import AbstractApplication, get_application_model
from oauth2_provider.oauth2_validators import OAuth2Validator as DOTValidator
from rest_framework.permissions import SAFE_METHODS, BasePermission

from core.api.exceptions import CredentialsNotValid

# Writes to these resource types administer accounts and access: the `admin` scope only.
ADMIN_RESOURCE_TYPES = frozenset(
    {"user", "service_account", "api_key", "team", "role", "member", "invitation", "organization", "tenant"}
)


class OAuth2Validator(DOTValidator):
    """Adds the claims MLMeta's single sign-on (and any relying party) maps: e-mail, name and the
    user's team names as `groups`."""

    oidc_claim_scope = {**DOTValidator.oidc_claim_scope, "groups": "profile"}

    def get_discovery_claims(self, request):
        return ["sub", "email", "email_verified", "name", "preferred_username", "groups"]

    def get_additional_claims(self, request):
        user = request.user
        return {
            "email": user.email,
            "email_verified": bool(user.email),
            "name": user.full_name or user.get_full_name() or user.username,
            "preferred_username": user.username,
            "groups": sorted(user.teams.values_list("name", flat=True)),
        }


def looks_like_dot_token(token: str) -> bool:
    """DOT's access tokens are opaque strings without dots; MLMeta's JWTs always have two."""
    return bool(token) and "." not in token


def token_user(access_token):
    """Who a token acts as: its user, or for the client-credentials grant the Application's user,
    which must be an active service account (a CI system's identity)."""
    if access_token.user_id is not None:
        return access_token.user
    application = access_token.application
    if application is None or application.authorization_grant_type != AbstractApplication.GRANT_CLIENT_CREDENTIALS:
        return None
    user = application.user
    if user is None or not user.is_service_account:
        return None
    return user


class OAuth2Authentication(DOTAuthentication):
    """`Authorization: Bearer <DOT access token>`. JWTs are left to JWTAuthentication (tried
    first); an opaque token that is unknown, expired or acts as nobody is refused with 401."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not looks_like_dot_token(value.strip()):
            return None
        found = super().authenticate(request)
        if found is None:
            raise CredentialsNotValid("invalid, expired or revoked OAuth2 access token")
        _, access_token = found
        user = token_user(access_token)
        if user is None or not user.is_active:
            raise CredentialsNotValid("the account behind this OAuth2 token does not exist or is inactive")
        return user, access_token

    def authenticate_header(self, request):
        return "Bearer"


def _resource_type(view) -> str:
    from tenants.rbac import shape

    queryset = getattr(view, "queryset", None)
    if queryset is None:
        return ""
    try:
        return shape(queryset.model).type
    except AttributeError:
        return ""


def required_scopes(method: str, resource_type: str) -> set[str]:
    """Any one of these scopes allows `method` on `resource_type`."""
    if method in SAFE_METHODS:
        return {"read", "write", "admin"}
    if resource_type in ADMIN_RESOURCE_TYPES:
        return {"admin"}
    return {"write", "admin"}


class TokenHasMethodScope(BasePermission):
    """For OAuth2 access tokens only (other credentials pass): the token's scopes must allow the
    request's method (see the module docstring)."""

    message = "This OAuth2 token's scope does not allow this request."

    def has_permission(self, request, view):
        token = request.auth
        if not hasattr(token, "allow_scopes"):
            return True
        needed = required_scopes(request.method, _resource_type(view))
        granted = set(token.scope.split())
        if granted & needed:
            return True
        self.message = (
            f"This OAuth2 token's scope ({token.scope}) does not allow {request.method}: "
            f"it needs one of {', '.join(sorted(needed))}."
        )
        return False


class AuthorizationView(dot_views.AuthorizationView):
    """django-oauth-toolkit's consent page. Its form answers with a redirect to the client, which
    the browser checks against the page's CSP form-action: allow that one validated origin."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        redirect_uri = self.oauth2_data.get("redirect_uri")
        if response.status_code == 200 and redirect_uri:
            response._csp_update = {"form-action": [origin_of(redirect_uri)]}
        return response


class UserInfoView(dot_views.UserInfoView):
    """OpenID Connect's userinfo. An access token in the URL's query is refused (RFC 9700: URLs end
    up in access logs, browser history and Referer headers), as django-oauth-toolkit's own check
    (COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT) does on the endpoints it protects but not here."""

    def dispatch(self, request, *args, **kwargs):
        if "access_token" in request.GET:
            response = JsonResponse(
                {
                    "error": "invalid_request",
                    "error_description": "Send the access token in the Authorization header, not in the URL.",
                },
                status=400,
            )
            response["WWW-Authenticate"] = 'Bearer error="invalid_request"'
            return response
        return super().dispatch(request, *args, **kwargs)


def origin_of(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"


def authorizing_client_origin(next_url: str) -> str | None:
    """When a login's `next` is this server's authorize endpoint, the origin its redirect chain
    ends at: the client's redirect URI (the registered default when none is asked for), if the
    application exists and registered it, as the authorize endpoint itself checks."""
    parts = urlsplit(next_url or "")
    if parts.scheme or parts.netloc or parts.path != reverse("oauth2_provider:authorize"):
        return None
    query = parse_qs(parts.query)
    client_id = query.get("client_id", [""])[0]
    application = get_application_model().objects.filter(client_id=client_id).first() if client_id else None
    if application is None:
        return None
    redirect_uri = query.get("redirect_uri", [application.default_redirect_uri])[0]
    if not redirect_uri or not application.redirect_uri_allowed(redirect_uri):
        return None
    return origin_of(redirect_uri)


class LoginView(auth_views.LoginView):
    """The dashboard's login. As the first step of an OAuth authorization whose application skips
    consent, its form's answer redirects through the authorize endpoint straight on to the client,
    and browsers check every redirect of a form's submission against the page's CSP form-action:
    allow that one validated client origin (see AuthorizationView)."""

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        origin = authorizing_client_origin(self.get_redirect_url())
        if origin:
            response._csp_update = {"form-action": [origin]}
        return response
