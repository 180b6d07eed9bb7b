"""Reading artifact-store files that live on the server's own disk (local artifact stores);
S3 stores go through mlmeta.s3_files.

The server only reads below the directories in `settings.MLMETA_LOCAL_ARTIFACT_ROOTS`, and only
inside the directory of the artifact store the row names: `<path>` when the store configures
one, `<root>/<store id>` otherwise (where ZenML's client puts a path-less local store). So a
client cannot make the server read arbitrary files, nor another tenant's store, by registering
a crafted URI.
"""

import base64
import json
import tempfile
import uuid
import zipfile
from pathlib import Path

from django.conf import settings

from core.api.exceptions import EntityNotFound, IllegalOperationError, ZenError
from mlmeta import s3_files

MAX_READ_BYTES = 50 * 1024 * 1024
MAX_LOG_ENTRIES = 10_000
LOCAL_FLAVOR = "local"


def roots() -> list[Path]:
    return [Path(root).expanduser().resolve() for root in settings.MLMETA_LOCAL_ARTIFACT_ROOTS]


def store_directories(store) -> list[Path]:
    """Where a local artifact store keeps its files, restricted to the configured roots."""
    if store is None or store.flavor_name != LOCAL_FLAVOR:
        return []
    configured = (store.configuration or {}).get("path")
    own = [Path(configured).expanduser().resolve()] if configured else [root / str(store.pk) for root in roots()]
    return [path for path in own if any(path.is_relative_to(root) for root in roots())]


def local_path(uri: str, store) -> Path:
    """The local file or directory of `uri`, if the server may read it; raises the API errors."""
    if "://" in uri and not uri.startswith("file://"):
        raise ZenError(
            f"The artifact store of `{uri}` is not local; MLMeta only reads local artifact stores.",
            "NotImplementedError",
            501,
        )
    path = Path(uri.removeprefix("file://")).expanduser().resolve()
    if not any(path.is_relative_to(directory) for directory in store_directories(store)):
        raise IllegalOperationError(
            f"`{uri}` is not inside a local artifact store this server may read (see MLMETA_LOCAL_ARTIFACT_ROOTS)."
        )
    if not path.exists():
        raise EntityNotFound(f"No file or directory at `{uri}`.")
    return path


def load_visualization(visualization, store, reader=None) -> dict:
    """ZenML's LoadedVisualization: `{"type", "value"}`, images base64-encoded. S3 stores are
    read through their connector or credentials (mlmeta.s3_files) on behalf of `reader`."""
    if s3_files.is_s3(store):
        data = s3_files.read_bytes(visualization.uri, store, reader)
    else:
        path = local_path(visualization.uri, store)
        if path.is_dir() or path.stat().st_size > MAX_READ_BYTES:
            raise ZenError(f"`{visualization.uri}` is not a visualization file MLMeta can serve.")
        data = path.read_bytes()
    if visualization.type == "image":
        value = base64.b64encode(data).decode("ascii")
    else:
        value = data.decode("utf-8", errors="replace")
    return {"type": visualization.type, "value": value}


def zip_directory(uri: str, store, reader=None):
    """A temporary file holding a zip of the artifact's files (a file or a whole directory)."""
    if s3_files.is_s3(store):
        return s3_files.zip_objects(uri, store, reader)
    path = local_path(uri, store)
    archive = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, which closes it
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if file.resolve().is_relative_to(path.resolve()):  # no symlinks out of the artifact
                zipped.write(file, file.relative_to(path) if path.is_dir() else file.name)
    archive.seek(0)
    return archive


def log_entries(logs) -> list[dict]:
    """The entries of a log record's file(s): ZenML writes JSON lines; plain lines are messages."""
    if not logs.uri:
        return []
    try:
        path = local_path(logs.uri, logs.artifact_store)
    except EntityNotFound:  # nothing logged yet: the client creates the file on the first line
        return []
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    entries = []
    for file in files:
        with file.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines):
                if len(entries) >= MAX_LOG_ENTRIES:
                    return entries
                if line.strip():
                    entries.append(_entry(line.rstrip("\n"), f"{logs.pk}:{file.name}:{number}"))
    return entries


def _entry(line: str, key: str) -> dict:
    entry_id = str(uuid.uuid5(uuid.NAMESPACE_URL, key))
    try:
        parsed = json.loads(line)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "message" in parsed:
        return {"id": entry_id, **parsed}
    return {"message": line, "id": entry_id}
