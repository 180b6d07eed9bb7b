"""Logs never hold a credential that came in a URL or a header (core.log_redaction): gunicorn's
access log whatever its format names, and Django's own records."""

import datetime
import importlib
import logging
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from core.log_redaction import RedactingLogger, RedactUrls, redact_url

SECRETS = ("inv-0123456789abcdef", "authcode-42", "csrf-state-7", "ABCD-EFGH", "tok-secret-99", "eyJ.jwt.sig")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/invitations/inv-0123456789abcdef/", "/invitations/[redacted]/"),
        ("/invitations/inv-0123456789abcdef/?next=/runs/", "/invitations/[redacted]/?next=/runs/"),
        (
            "/sso/acme/callback?code=authcode-42&state=csrf-state-7",
            "/sso/acme/callback?code=[redacted]&state=[redacted]",
        ),
        (
            "/default/devices/verify?device_id=7&user_code=ABCD-EFGH",
            "/default/devices/verify?device_id=7&user_code=[redacted]",
        ),
        ("/oauth/userinfo/?Access_Token=tok-secret-99", "/oauth/userinfo/?Access_Token=[redacted]"),
        ("/api/v1/runs?size=20&sort_by=desc:created", "/api/v1/runs?size=20&sort_by=desc:created"),
        ("https://mlmeta.example/invitations/inv-0123456789abcdef/", "https://mlmeta.example/invitations/[redacted]/"),
        ("/api/v1/runs?code", "/api/v1/runs?code"),  # a bare name carries no value
        ("-", "-"),
    ],
)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_no_credential_reaches_an_access_log_line():
    logger = RedactingLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/sso/acme/callback?code=authcode-42&state=csrf-state-7",
        "PATH_INFO": "/sso/acme/callback",
        "QUERY_STRING": "code=authcode-42&state=csrf-state-7",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": "http://mlmeta.example/invitations/inv-0123456789abcdef/",
        "HTTP_USER_AGENT": "browser",
        "HTTP_AUTHORIZATION": "Bearer tok-secret-99",
        "HTTP_COOKIE": "sessionid=eyJ.jwt.sig",
    }
    request = SimpleNamespace(
        headers=[
            ("AUTHORIZATION", "Bearer tok-secret-99"),
            ("COOKIE", "sessionid=eyJ.jwt.sig"),
            ("REFERER", environ["HTTP_REFERER"]),
            ("X-API-KEY", "ABCD-EFGH"),
        ]
    )
    response = SimpleNamespace(status="302 Found", sent=0, headers=[("Set-Cookie", "sessionid=eyJ.jwt.sig")])
    atoms = logger.atoms(response, request, environ, datetime.timedelta(milliseconds=3))
    line = Config().access_log_format % atoms
    assert '"GET /sso/acme/callback?code=[redacted]&state=[redacted] HTTP/1.1" 302' in line
    assert "/invitations/[redacted]/" in line
    everything = repr(atoms)
    assert not any(secret in everything for secret in SECRETS)
    assert atoms["q"] == "code=[redacted]&state=[redacted]" and atoms["U"] == "/sso/acme/callback"


def test_gunicorn_runs_with_the_redacting_logger():
    config = Config()
    config.set("logger_class", importlib.import_module("config.gunicorn").logger_class)
    assert config.logger_class is RedactingLogger


def test_django_records_reach_the_console_redacted(client, db, caplog):
    """Django logs the path of a 404 (`Not Found: %s`); the console handler's filter redacts it."""
    from django.conf import settings

    console = settings.LOGGING["handlers"]["console"]
    assert settings.LOGGING["filters"][console["filters"][0]]["()"] == "core.log_redaction.RedactUrls"
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get("/invitations/inv-0123456789abcdef/").status_code == 404
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records and all(RedactUrls().filter(record) for record in records)
    assert [record.getMessage() for record in records] == ["Not Found: /invitations/[redacted]/"]
