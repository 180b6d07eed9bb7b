"""Regenerate docs/compatibility.md: which of the ZenML 0.98.0 server's operations MLMeta serves.

    .venv/bin/python docs/compat.py           # rewrite the file
    .venv/bin/python docs/compat.py --check   # exit 1 when the committed file is out of date

Every operation of the real server's OpenAPI document is resolved against MLMeta's URLconf with a
sample id in each path parameter; it counts as implemented when the route that answers has the
same shape as the operation's path (so `/pipeline_snapshots/prune` is not mistaken for a snapshot
id) and its view accepts the method. Routes MLMeta serves beyond the real server must be listed
in ADDITIONS; tests/core/test_compatibility.py enforces both.
"""

import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "compatibility.md"
OPENAPI = ROOT / "core" / "data" / "zenml-openapi-0.98.0.json"
SAMPLE_ID = "6ba8442f-0d1e-4a8e-9f63-2c5b7d1e0a99"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
API_PREFIX = "/api/v1/"

# Routes MLMeta serves that the real server does not, with the reason they exist.
ADDITIONS = {
    ("POST", "/api/v1/logout"): "Same as `GET` (clears the auth cookie), for HTTP clients that log out with a POST.",
}


def setup_django() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def openapi_operations() -> list[dict]:
    """The real server's operations in the document's order."""
    document = json.loads(OPENAPI.read_text())
    operations = []
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                operations.append(
                    {
                        "method": method.upper(),
                        "path": path,
                        "summary": op.get("summary", ""),
                        "tags": ", ".join(op.get("tags", [])),
                        "deprecated": bool(op.get("deprecated")),
                    }
                )
    return operations


def shape(path: str) -> str:
    """A path or URL pattern with every parameter replaced by `{}`: `/api/v1/runs/{}/steps`."""
    path = re.sub(r"\{[^}]+\}", "{}", path)
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "{}", path)  # regex groups of routers
    path = re.sub(r"<(?:\w+:)?\w+>", "{}", path)  # path() converters
    path = path.replace("^", "").replace("$", "").replace("\\", "")
    return "/" + path.lstrip("/")


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


def is_implemented(method: str, path: str) -> bool:
    from django.urls import Resolver404, resolve

    sample = re.sub(r"\{[^}]+\}", SAMPLE_ID, path)
    try:
        match = resolve(sample)
    except Resolver404:
        return False
    if shape(match.route) != shape(path):
        return False  # a catch-all, or a literal segment taken for an id
    methods = view_methods(match.func)
    return methods is None or method in methods


def served_routes() -> set[tuple[str, str]]:
    """(method, shape) of every route MLMeta serves under /api/v1, walked from the URLconf."""
    from django.urls import URLPattern, URLResolver, get_resolver

    from core.api.exceptions import api_not_found

    routes = set()

    def walk(patterns, prefix):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and entry.callback is not api_not_found:
                path = shape(route)
                if path.startswith(API_PREFIX):
                    routes.update((method, path) for method in view_methods(entry.callback) or {"ANY"})

    walk(get_resolver().url_patterns, "")
    return routes


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    operations = openapi_operations()
    for op in operations:
        op["implemented"] = is_implemented(op["method"], op["path"])
    implemented = sum(op["implemented"] for op in operations)
    deprecated = [op for op in operations if op["deprecated"]]
    current = [op for op in operations if not op["deprecated"]]
    lines = [
        "# Compatibility with the ZenML 0.98.0 server API",
        "",
        "Generated by `docs/compat.py` from the real server's OpenAPI document",
        "(`core/data/zenml-openapi-0.98.0.json`) and MLMeta's URL resolver; do not edit by hand.",
        "Regenerate with `.venv/bin/python docs/compat.py`; `tests/core/test_compatibility.py` fails",
        "when this file is out of date or MLMeta serves a route that is neither here nor in",
        '"MLMeta additions".',
        "",
        "## Summary",
        "",
        "| | operations | implemented | not yet |",
        "|---|---:|---:|---:|",
        _count_row("all", operations),
        _count_row("current", current),
        _count_row("deprecated", deprecated),
        "",
        f"{implemented} of {len(operations)} operations implemented.",
        "",
        "## Operations",
        "",
        "| method | path | summary | tags | status |",
        "|---|---|---|---|---|",
    ]
    for op in operations:
        status = "implemented" if op["implemented"] else "not yet"
        if op["deprecated"]:
            status += ", deprecated"
        lines.append(f"| {op['method']} | `{op['path']}` | {cell(op['summary'])} | {op['tags']} | {status} |")
    lines += [
        "",
        "## MLMeta additions",
        "",
        "Routes under `/api/v1` that the real server does not have (parameters shown as `{}`).",
        "",
        "| method | path | why |",
        "|---|---|---|",
    ]
    for (method, path), why in sorted(ADDITIONS.items(), key=lambda item: (item[0][1], item[0][0])):
        lines.append(f"| {method} | `{path}` | {cell(why)} |")
    return "\n".join(lines) + "\n"


def _count_row(label: str, operations: list[dict]) -> str:
    done = sum(op["implemented"] for op in operations)
    return f"| {label} | {len(operations)} | {done} | {len(operations) - done} |"


def parse_additions(text: str) -> set[tuple[str, str]]:
    """The (method, path) rows of the "MLMeta additions" section of a rendered document."""
    _, _, section = text.partition("## MLMeta additions")
    rows = re.findall(r"^\| (\w+) \| `([^`]+)` \|", section, flags=re.MULTILINE)
    return {(method, path) for method, path in rows if method != "method"}


def main(argv: list[str]) -> int:
    setup_django()
    text = render()
    if "--check" in argv:
        if DOC.read_text() != text:
            print(f"{DOC.relative_to(ROOT)} is out of date: run .venv/bin/python docs/compat.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
