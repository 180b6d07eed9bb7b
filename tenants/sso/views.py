"""/sso/<org-slug>/login sends the browser to the organization's provider; /sso/<org-slug>/callback
validates its answer, signs the user in and lands them on a tenant dashboard.

Every outcome is audited ("login" or "login_failed", via "sso"); every refusal is a page with a 4xx
status that says why, never a 500.
"""

import logging

from authlib.integrations.base_client import MismatchingStateError, OAuthError
from django.conf import settings
from django.contrib.auth import login
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from tenants import audit, rbac
from tenants.models import OrganizationSSO
from tenants.sso import client as sso_client
from tenants.sso.provisioning import SSORefused, map_claims, sign_in

logger = logging.getLogger(__name__)

NEXT_KEY = "sso_next"


class SSOView(View):
    """Shared by both steps: the organization's enabled SSO configuration, and refusal pages."""

    http_method_names = ["get"]

    def dispatch(self, request, org_slug):
        self.org_slug = org_slug
        self.sso = OrganizationSSO.objects.select_related("organization").filter(organization__slug=org_slug).first()
        try:
            if self.sso is None or not self.sso.enabled:
                raise SSORefused("sso_disabled", "This organization has no single sign-on set up.", 404)
            return super().dispatch(request, org_slug)
        except SSORefused as refusal:
            return self.refuse(refusal)
        except sso_client.SSOClientError as exc:
            return self.refuse(SSORefused("sso_misconfigured", f"Single sign-on is misconfigured: {exc}.", 400))

    def refuse(self, refusal: SSORefused):
        organization = self.sso.organization if self.sso else None
        audit.record(
            "login_failed",
            request=self.request,
            organization=organization,
            resource_type="organization",
            resource_id=getattr(organization, "pk", ""),
            resource_name=self.org_slug,
            via="sso",
            detail=f"{refusal.reason}: {refusal.message}",
        )
        context = {"message": refusal.message, "organization": organization, "org_slug": self.org_slug}
        return TemplateResponse(self.request, "tenants/sso_refused.html", context, status=refusal.status)

    def callback_url(self) -> str:
        # Always at the root, not under a tenant's /t/<slug>/ prefix: one redirect URI per provider.
        return self.request.build_absolute_uri(f"/sso/{self.org_slug}/callback")


class SSOLoginView(SSOView):
    def get(self, request, org_slug):
        wanted = request.GET.get("next", "")
        safe = url_has_allowed_host_and_scheme(wanted, {request.get_host()}, request.is_secure())
        request.session[NEXT_KEY] = wanted if safe else ""
        client = sso_client.client_for(self.sso)
        try:
            return client.authorize_redirect(request, self.callback_url())
        except sso_client.PROVIDER_ERRORS as exc:
            logger.warning("SSO discovery failed for %s: %s", org_slug, exc)
            raise SSORefused(
                "provider_error", "The identity provider cannot be reached; try again later.", 400
            ) from None


class SSOCallbackView(SSOView):
    def get(self, request, org_slug):
        if request.GET.get("error"):
            reason = request.GET.get("error_description") or request.GET["error"]
            raise SSORefused("provider_refused", f"The identity provider did not sign you in: {reason[:200]}", 400)
        claims = self.validated_claims(sso_client.client_for(self.sso))
        user, created = sign_in(self.sso, map_claims(self.sso, claims), request)
        wanted = request.session.pop(NEXT_KEY, "")
        login(request, user, backend=_session_backend())
        audit.record(
            "login",
            request=request,
            actor=user,
            obj=user,
            organization=self.sso.organization,
            via="sso",
            detail=f"single sign-on of {self.sso.organization.slug}" + (" (account created)" if created else ""),
        )
        return redirect(wanted or self.landing(user))

    def validated_claims(self, client) -> dict:
        """The ID token's claims (signature, issuer, audience, expiry and nonce checked by Authlib),
        completed from the userinfo endpoint when the ID token lacks a mapped claim."""
        try:
            token = client.authorize_access_token(self.request)
        except MismatchingStateError:
            raise SSORefused(
                "invalid_state",
                "This sign-in link is invalid or has expired (it must finish in the browser that started it). "
                "Start again from the login page.",
                400,
            ) from None
        except (OAuthError, *sso_client.PROVIDER_ERRORS) as exc:
            logger.warning("SSO callback failed for %s: %s", self.org_slug, exc)
            raise SSORefused("provider_error", "The identity provider's answer could not be verified.", 400) from None
        if not token.get("userinfo"):
            raise SSORefused("no_id_token", "The identity provider sent no ID token.", 400)
        claims = dict(token["userinfo"])
        if any(name and name not in claims for name in self.mapped_claims()):
            claims = {**self.userinfo(client, token, claims.get("sub")), **claims}
        return claims

    def mapped_claims(self) -> list[str]:
        return [self.sso.email_claim, self.sso.name_claim, self.sso.groups_claim]

    def userinfo(self, client, token, subject) -> dict:
        try:
            extra = sso_client.userinfo(client, token)
        except (OAuthError, *sso_client.PROVIDER_ERRORS) as exc:
            logger.warning("SSO userinfo failed for %s: %s", self.org_slug, exc)
            return {}
        if extra.get("sub") != subject:
            raise SSORefused("subject_mismatch", "The identity provider's userinfo is for another account.", 400)
        return extra

    def landing(self, user) -> str:
        """The first of the organization's tenants the user may use (the default tenant first)."""
        tenants = self.sso.organization.tenants.filter(active=True).order_by("-is_default", "slug")
        for tenant in tenants:
            if rbac.may_use_tenant(user, tenant):
                return tenant.get_absolute_url()
        return settings.LOGIN_REDIRECT_URL


def _session_backend() -> str:
    """The backend recorded in the session: the model backend, which knows no password here."""
    backends = settings.AUTHENTICATION_BACKENDS
    return next((b for b in backends if b.endswith(".ModelBackend")), backends[-1])
