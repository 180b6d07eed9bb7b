"""The OpenID Connect client of an organization's SSO, built per request from OrganizationSSO."""

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import OAuth
from joserfc.errors import JoseError

from tenants import crypto
from tenants.models import OrganizationSSO

# Whatever a misbehaving or unreachable provider (or a forged callback) can make the client raise.
PROVIDER_ERRORS = (AuthlibBaseError, JoseError, requests.RequestException, ValueError, KeyError, RuntimeError)
TIMEOUT_SECONDS = 10


class SSOClientError(Exception):
    """The provider could not be used: unreachable, misconfigured, or the secret cannot be opened."""


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def client_for(sso: OrganizationSSO):
    """An Authlib Django OAuth2 app for `sso`: discovery from its issuer, PKCE (S256), state and
    nonce kept in the session under a name of the organization's own."""
    try:
        secret = sso.client_secret
    except crypto.InvalidToken:
        raise SSOClientError("the stored client secret cannot be decrypted (was SECRET_KEY changed?)") from None
    oauth = OAuth()
    return oauth.register(
        name=f"sso-{sso.organization.slug}",
        client_id=sso.client_id,
        client_secret=secret,
        server_metadata_url=discovery_url(sso.issuer),
        client_kwargs={"scope": sso.scopes, "code_challenge_method": "S256", "default_timeout": TIMEOUT_SECONDS},
    )


def userinfo(client, token: dict) -> dict:
    """The provider's userinfo endpoint answer for `token` ({} when it has none)."""
    if not client.load_server_metadata().get("userinfo_endpoint"):
        return {}
    return dict(client.userinfo(token=token))
