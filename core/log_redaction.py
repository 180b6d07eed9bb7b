"""Logs without credentials from URLs and headers.

A URL can carry a credential: an invitation link's token in its path, an OAuth callback's `code`
and `state`, a device login's `user_code`, an access token a client put in the query (which
MLMeta refuses, after it has been read). gunicorn's access log writes the request line and the
Referer (a page's own URL, with `Referrer-Policy: same-origin`) and Django logs the path of every
4xx and 5xx, so their values are replaced by `[redacted]` before any format sees them:
`RedactingLogger` is gunicorn's `logger_class` (config/gunicorn.py), and also blanks the headers
that carry credentials should an operator's `access_log_format` name them; `RedactUrls` filters
the records of Django's own logging (settings.LOGGING).
"""

import logging
import re

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
# Query parameters whose value is a credential, or one step from one.
SECRET_PARAMS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "code",
        "state",
        "user_code",
        "device_code",
        "client_secret",
        "password",
        "api_key",
        "key",
        "secret",
    }
)
# Paths whose segment after the prefix is a credential (tenants.urls "invitation").
SECRET_PATH = re.compile(r"(/invitations/)[^/?#\s]+")
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
URL_HEADERS = frozenset({"referer", "raw-uri", "request-uri", "path-info"})


def redact_url(url: str) -> str:
    """`url` (a path with its query, or a whole URL) with credentials in it replaced."""
    if not url:
        return url
    path, sep, query = url.partition("?")
    return SECRET_PATH.sub(rf"\1{REDACTED}", path) + sep + (redact_query(query) if sep else "")


def redact_query(query: str) -> str:
    kept = []
    for pair in query.split("&"):
        name, eq, _ = pair.partition("=")
        kept.append(f"{name}={REDACTED}" if eq and name.lower() in SECRET_PARAMS else pair)
    return "&".join(kept)


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        parts = atoms["r"].split(" ")
        if len(parts) == 3:  # METHOD URI PROTOCOL
            parts[1] = redact_url(parts[1])
        atoms["r"] = " ".join(parts) if len(parts) == 3 else redact_url(atoms["r"])
        atoms["U"] = redact_url(atoms["U"])
        atoms["q"] = redact_query(atoms["q"]) if atoms["q"] else atoms["q"]
        atoms["f"] = redact_url(atoms["f"])
        # Request headers ({name}i), response headers ({name}o), the environ ({name}e, where
        # request headers are {http_name}e).
        for key, value in atoms.items():
            if not (key.startswith("{") and key[-2:] in ("}i", "}o", "}e") and isinstance(value, str)):
                continue
            name = key[1:-2].removeprefix("http_").replace("_", "-")
            if name in SECRET_HEADERS:
                atoms[key] = REDACTED
            elif name in URL_HEADERS:
                atoms[key] = redact_url(value)
            elif name == "query-string":
                atoms[key] = redact_query(value)
        return atoms


class RedactUrls(logging.Filter):
    """A log record's text arguments (Django's "Not Found: %s" path among them) with credentials
    in URLs replaced."""

    def filter(self, record):
        if isinstance(record.args, tuple):
            record.args = tuple(redact_url(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True
