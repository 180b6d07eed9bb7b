"""How the dashboard shows an artifact visualization read from the artifact store.

Markdown is rendered and then sanitised (nh3), CSV becomes rows for an escaped table, JSON is
pretty-printed text. HTML and images are never inlined into the page: the page points an
<iframe sandbox> or <img> at `raw()`, served from its own URL under a sandboxing CSP.
"""

import base64
import csv
import io
import json

import markdown
import nh3

from core.api.exceptions import ZenError
from mlmeta import artifact_files
from mlmeta.choices import VisualizationType

CSV_ROWS = 100
# Markdown and JSON larger than this are not rendered into the page (the download has them).
INLINE_MAX_CHARS = 2_000_000
# Served with every raw visualization: no scripts, no network, no same-origin access.
SANDBOX_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
IMAGE_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


def load(visualization, store, reader) -> dict:
    """ZenML's LoadedVisualization, or `{"problem": ...}` when the store cannot give it."""
    try:
        return artifact_files.load_visualization(visualization, store, reader)
    except ZenError as exc:
        return {"type": visualization.type, "problem": exc.message}


def render(visualization, store, reader) -> dict:
    """What the page shows: the type plus `markdown` (safe HTML), `rows`, `text` or `problem`.

    HTML and images get no content here: the template embeds them by URL.
    """
    if visualization.type in (VisualizationType.HTML, VisualizationType.IMAGE):
        return {"type": visualization.type}
    loaded = load(visualization, store, reader)
    if "problem" in loaded:
        return loaded
    value = loaded["value"]
    if visualization.type != VisualizationType.CSV and len(value) > INLINE_MAX_CHARS:
        size = f"{len(value) / 1_000_000:.1f} MB"
        return {"type": visualization.type, "problem": f"it is too large to show here ({size}); download it instead."}
    if visualization.type == VisualizationType.MARKDOWN:
        return {"type": "markdown", "markdown": safe_markdown(value)}
    if visualization.type == VisualizationType.CSV:
        return {"type": "csv", **csv_rows(value)}
    return {"type": "json", "text": pretty_json(value)}


def safe_markdown(text: str) -> str:
    """Markdown as HTML with scripts, event handlers and javascript: links removed."""
    html = markdown.markdown(text, extensions=["tables", "fenced_code"])
    return nh3.clean(html, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")


def csv_rows(text: str, limit: int = CSV_ROWS) -> dict:
    """The header and the first `limit` rows; `truncated` when there were more."""
    rows = []
    for row in csv.reader(io.StringIO(text)):
        rows.append(row)
        if len(rows) > limit + 1:  # the header, `limit` rows and one to know there are more
            break
    return {"header": rows[0] if rows else [], "rows": rows[1 : limit + 1], "truncated": len(rows) > limit + 1}


def pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def raw(visualization, store, reader) -> tuple[bytes, str] | None:
    """The bytes and content type to serve in the sandboxed frame (HTML or image), or None."""
    loaded = load(visualization, store, reader)
    if "problem" in loaded:
        return None
    if visualization.type == VisualizationType.IMAGE:
        data = base64.b64decode(loaded["value"])
        return data, image_type(data)
    if visualization.type == VisualizationType.HTML:
        return loaded["value"].encode("utf-8"), "text/html; charset=utf-8"
    return loaded["value"].encode("utf-8"), "text/plain; charset=utf-8"


def image_type(data: bytes) -> str:
    for signature, content_type in IMAGE_SIGNATURES.items():
        if data.startswith(signature):
            return content_type
    if b"<svg" in data[:1024]:
        return "image/svg+xml"
    return "application/octet-stream"
