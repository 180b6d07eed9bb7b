"""Helpers for API tests: a tenant seeded like a fresh server, and a client with a Bearer token."""

from rest_framework.test import APIClient

from tenants import tokens


def bearer_client(user, tenant) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.issue(user, tenant)}")
    return client
