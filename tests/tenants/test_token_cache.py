"""tenants.tokens.decode verifies a token once per process, and still refuses it once expired,
for another tenant, or altered."""

import time

import jwt
import pytest

from tenants import tokens
from tenants.models import User


@pytest.fixture
def user(tenant):
    return User.objects.create_user("tokened")


def test_a_token_is_verified_once_and_its_claims_cannot_be_changed_through_the_cache(tenant, user, monkeypatch):
    token = tokens.issue(user, tenant)
    first = tokens.decode(token, tenant)
    first["sub"] = "changed"
    calls = []
    monkeypatch.setattr(tokens.jwt, "decode", lambda *args, **kwargs: calls.append(args))
    again = tokens.decode(token, tenant)
    assert again["sub"] == user.pk and calls == []


def test_an_expired_token_is_refused_after_it_was_verified(tenant, user, monkeypatch):
    token = tokens.issue(user, tenant, expires_in=60)
    assert tokens.decode(token, tenant)["sub"] == user.pk
    later = time.time() + 120
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    with pytest.raises(jwt.ExpiredSignatureError):
        tokens.decode(token, tenant)


def test_another_tenant_or_an_altered_token_is_refused(tenant, tenant_b, user):
    token = tokens.issue(user, tenant)
    tokens.decode(token, tenant)
    with pytest.raises((jwt.InvalidAudienceError, jwt.InvalidIssuerError)):
        tokens.decode(token, tenant_b)
    header, payload, signature = token.split(".")
    # Its first character changed: the signature's first byte then always differs (replacing its
    # last two with "AA" left about one token in a thousand as it was, and valid).
    altered = ("B" if signature[0] == "A" else "A") + signature[1:]
    with pytest.raises(jwt.InvalidTokenError):
        tokens.decode(f"{header}.{payload}.{altered}", tenant)


def test_a_refused_token_is_not_remembered(tenant, user, settings):
    token = tokens.issue(user, tenant)
    secret = settings.JWT_SECRET_KEY
    settings.JWT_SECRET_KEY = "another-secret-of-at-least-32-bytes-long"
    with pytest.raises(jwt.InvalidSignatureError):
        tokens.decode(token, tenant)
    settings.JWT_SECRET_KEY = secret
    assert tokens.decode(token, tenant)["sub"] == user.pk
