"""The `/api/v1` routes MLMeta serves, read from the URL resolver: one `Route` per URL pattern and
HTTP method. Used by docs/compat.py (the compatibility table) and the API robustness tests."""

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

from core.api.exceptions import api_not_found

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
API_PREFIX = "/api/v1/"


@dataclass(frozen=True)
class Route:
    method: str  # upper case
    path: str  # with named parameters: /api/v1/runs/{pk}/steps
    action: str | None  # the viewset action, for viewset routes
    callback: object

    @property
    def params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)


def template(pattern: str) -> str:
    """A URL pattern (route or regex) with each parameter written `{name}`."""
    pattern = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)
    pattern = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern)
    return pattern.replace("^", "").replace("$", "").replace("\\", "")


def view_methods(callback) -> set[str] | None:
    """The HTTP methods a view answers, or None for a plain Django view that takes any method.

    HEAD and OPTIONS are left out: Django and DRF answer them for every view."""
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is None:
        return None
    names = set(getattr(cls, "http_method_names", HTTP_METHODS)) & set(HTTP_METHODS)
    actions = getattr(callback, "actions", None)
    if actions is not None:  # a viewset: the router's method map, narrowed by http_method_names
        return {method.upper() for method in actions if method in names}
    return {method.upper() for method in names if hasattr(cls, method)}


def api_routes(under: str = API_PREFIX) -> list[Route]:
    """Every (pattern, method) MLMeta serves under `under` (/api/v1 by default; the permission
    matrix of the control plane asks for /api/control/v1/), in URLconf order."""
    routes = []

    def walk(patterns, prefix):
        for entry in patterns:
            path = prefix + template(str(entry.pattern))
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, path)
            elif isinstance(entry, URLPattern) and entry.callback is not api_not_found:
                path = "/" + path.lstrip("/")
                if path.startswith(under):
                    actions = getattr(entry.callback, "actions", None) or {}
                    for method in sorted(view_methods(entry.callback) or {"ANY"}):
                        routes.append(Route(method, path, actions.get(method.lower()), entry.callback))

    walk(get_resolver().url_patterns, "")
    return routes
