"""Request bodies are checked against the real server's own OpenAPI schemas (required fields,
types, enums, lengths), so MLMeta accepts and refuses exactly what ZenML 0.98.0 does."""

import json
import uuid
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator

from core.api.exceptions import RequestValidationError

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "data" / "zenml-openapi-0.98.0.json"


@cache
def _components() -> dict:
    return json.loads(SCHEMA_FILE.read_text())["components"]


def schema(schema_name: str) -> dict:
    """One of the OpenAPI document's component schemas (e.g. to list a model's fields)."""
    return _components()["schemas"][schema_name]


@cache
def validator(schema_name: str) -> Draft202012Validator:
    if schema_name not in _components()["schemas"]:
        raise KeyError(f"No schema {schema_name!r} in the ZenML OpenAPI document.")
    return Draft202012Validator({"$ref": f"#/components/schemas/{schema_name}", "components": _components()})


def _describe(error) -> str:
    loc = ("body", *error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return str({"type": "missing", "loc": (*loc, missing), "msg": "Field required", "input": error.instance})
    return str({"type": error.validator, "loc": loc, "msg": error.message, "input": error.instance})


def _nul_path(data, path=()) -> tuple | None:
    """Where in a JSON value a string holds a NUL character (PostgreSQL cannot store one), if anywhere."""
    if isinstance(data, str):
        return path if "\x00" in data else None
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        if isinstance(key, str) and "\x00" in key:
            return (*path, key)
        found = _nul_path(value, (*path, key))
        if found is not None:
            return found
    return None


def validate_body(data, schema_name: str, location: str = "") -> None:
    """Raise a 422 naming every problem of `data` against `schema_name`."""
    nul = _nul_path(data)
    if nul is not None:
        raise invalid(".".join(map(str, nul)) or "body", "Input should not contain NUL characters")
    errors = sorted(validator(schema_name).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = "\n  ".join(_describe(error) for error in errors[:20])
        plural = "s" if len(errors) > 1 else ""
        raise RequestValidationError(f"{len(errors)} validation error{plural}:\n  {lines}\n\n  {location}".rstrip())


def invalid(field: str, message: str, value=None, where: str = "body") -> RequestValidationError:
    """A 422 for one field, worded like the schema errors."""
    detail = {"type": "value_error", "loc": (where, *field.split(".")), "msg": message, "input": value}
    error = RequestValidationError(f"1 validation error:\n  {detail}")
    error.field, error.plain = field, message  # for pages that show the message on a form
    return error


def parse_uuid(value, field: str, where: str = "body") -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        raise invalid(field, "Input should be a valid UUID", value, where) from None


def is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False
