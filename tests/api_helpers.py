"""Helpers for API tests: a tenant seeded like a fresh server, and a client with a Bearer token."""

from rest_framework.test import APIClient

from tenants import tokens


def bearer_client(user, tenant) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.issue(user, tenant)}")
    return client


class TenantClient:
    """A Bearer client that addresses one tenant's API under its URL prefix (`/t/<slug>/api/v1/...`)."""

    def __init__(self, user, tenant):
        self.client = bearer_client(user, tenant)
        self.prefix = tenant.url_prefix

    def __getattr__(self, method):
        call = getattr(self.client, method)
        return lambda path, *args, **kwargs: call(self.prefix + path, *args, **kwargs)
