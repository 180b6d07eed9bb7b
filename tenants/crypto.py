"""Encrypting the few secrets the tenants app keeps itself (an SSO client secret), with a key
derived from SECRET_KEY: Fernet (AES-128-CBC + HMAC) from `cryptography`. Values sealed under an
old key keep opening while it is listed in SECRET_KEY_FALLBACKS."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "open_", "seal"]

PURPOSE = b"mlmeta.tenants.crypto.v1:"


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(PURPOSE + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _keys() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(key) for key in keys])


def seal(plaintext: str) -> str:
    return _keys().encrypt(plaintext.encode()).decode()


def open_(sealed: str) -> str:
    """The plaintext; raises InvalidToken when no current or fallback key opens it."""
    return _keys().decrypt(sealed.encode()).decode()
