"""Encryption of secret values at rest: AES-256-GCM under the keys of settings.SECRETS_ENCRYPTION_KEYS.

The first key encrypts; every listed key decrypts, so keys rotate by putting a new one first and
re-encrypting (`reencrypt()`) before the old one is dropped. A ciphertext is
`v1:<key id>:<urlsafe base64(nonce | ciphertext | tag)>`; the caller's associated data (e.g. the
secret's id) is authenticated too, so a ciphertext copied onto another row does not decrypt.
"""

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

VERSION = "v1"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """The ciphertext is malformed, tampered with, or under a key that is no longer configured."""


def _keys() -> dict[str, bytes]:
    return dict(settings.SECRETS_ENCRYPTION_KEYS)


def active_key_id() -> str:
    return settings.SECRETS_ENCRYPTION_KEYS[0][0]


def encrypt(plaintext: bytes, associated_data: bytes) -> str:
    key_id, key = settings.SECRETS_ENCRYPTION_KEYS[0]
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext, associated_data)
    return f"{VERSION}:{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def key_id_of(ciphertext: str) -> str:
    return ciphertext.split(":", 2)[1] if ciphertext.count(":") >= 2 else ""


def decrypt(ciphertext: str, associated_data: bytes) -> bytes:
    version, _, rest = ciphertext.partition(":")
    key_id, _, payload = rest.partition(":")
    key = _keys().get(key_id)
    if version != VERSION or key is None:
        raise DecryptionError(f"No configured key {key_id!r} for this ciphertext.")
    try:
        data = base64.urlsafe_b64decode(payload.encode())
        return AESGCM(key).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], associated_data)
    except (binascii.Error, ValueError, InvalidTag):
        raise DecryptionError("The ciphertext does not decrypt.") from None


def reencrypt(ciphertext: str, associated_data: bytes) -> str:
    """The same plaintext under the active key (unchanged if it already is)."""
    if key_id_of(ciphertext) == active_key_id():
        return ciphertext
    return encrypt(decrypt(ciphertext, associated_data), associated_data)
