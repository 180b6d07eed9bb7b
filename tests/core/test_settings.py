"""Settings are read in a fresh interpreter, as a server process would at start-up."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]
KEY = "k1:" + base64.urlsafe_b64encode(b"x" * 32).decode()
RSA_PEM = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    .decode()
)
PRODUCTION = {
    "MLMETA_ENV": "production",
    "SECRET_KEY": "s" * 50,
    "MLMETA_JWT_SECRET_KEY": "j" * 50,
    "MLMETA_SECRETS_KEYS": KEY,
    "MLMETA_OIDC_RSA_PRIVATE_KEY": RSA_PEM,
    "DATABASE_URL": "postgres://mlmeta@db.internal:5432/mlmeta",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "ALLOWED_HOSTS": "mlmeta.example.com",
    "DEBUG": "false",
}
SETTINGS_VARS = {*PRODUCTION, "PORT", "MLMETA_SERVER_URL"}


def load_settings(tmp_path, **env):
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    base.update(MLMETA_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings", **env)
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'])"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True)


def test_development_defaults_start_and_generate_secrets_once(tmp_path):
    first = load_settings(tmp_path)
    assert first.returncode == 0, first.stderr
    assert "sqlite3" in first.stdout
    secret = (tmp_path / "secret_key").read_text()
    assert load_settings(tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == secret
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_production_starts_with_every_variable_set(tmp_path):
    result = load_settings(tmp_path, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "postgresql" in result.stdout
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    "missing",
    [
        "SECRET_KEY",
        "MLMETA_JWT_SECRET_KEY",
        "MLMETA_SECRETS_KEYS",
        "MLMETA_OIDC_RSA_PRIVATE_KEY",
        "DATABASE_URL",
        "ALLOWED_HOSTS",
    ],
)
def test_production_refuses_to_start_without(tmp_path, missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr.strip().splitlines()[-1]


def test_production_refuses_the_embedded_broker_and_debug(tmp_path):
    result = load_settings(tmp_path, **{**PRODUCTION, "CELERY_BROKER_URL": "filesystem://"})
    assert result.returncode != 0 and "CELERY_BROKER_URL" in result.stderr
    result = load_settings(tmp_path, **{**PRODUCTION, "DEBUG": "true"})
    assert result.returncode != 0 and "DEBUG" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("DEBUG", "maybe"),
        ("MLMETA_ENV", "staging"),
        ("DATABASE_URL", "nosuchdb://x/y"),
        ("MLMETA_SECRETS_KEYS", "k1:tooshort"),
        ("MLMETA_SECRETS_KEYS", "no-id-separator"),
    ],
)
def test_invalid_values_name_the_variable(tmp_path, name, value):
    result = load_settings(tmp_path, **{name: value})
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert name in last_line
