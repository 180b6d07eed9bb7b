"""core.schema_forms: every built-in flavor's and connector auth method's schema becomes a form
that renders and takes back its own defaults; typed values, JSON fields, secret fields."""

import json
from pathlib import Path

import pytest
from django.http import QueryDict

from core.schema_forms import SchemaForm
from secrets_app import connectors as registry

FLAVORS = json.loads((Path(__file__).parents[2] / "mlmeta" / "data" / "flavors.json").read_text())


def builtin_schemas():
    yield from ((f"{f['type']}/{f['name']}", f["config_schema"]) for f in FLAVORS)
    for kind in registry.connector_types():
        yield from ((f"{kind.connector_type}/{m.auth_method}", m.config_schema()) for m in kind.auth_methods)


def submitted(form) -> QueryDict:
    """What a browser sends back for an untouched form."""
    data = QueryDict(mutable=True)
    for field in form:
        value = field.value()
        if value in (None, "", False):
            continue
        data[field.html_name] = "on" if value is True else str(field.field.prepare_value(value))
    return data


def test_every_builtin_schema_renders_and_takes_back_its_defaults():
    schemas = list(builtin_schemas())
    assert len(schemas) > 80
    for name, schema in schemas:
        form = SchemaForm(schema, prefix="config")
        assert str(form) or not schema.get("properties"), name
        again = SchemaForm(schema, submitted(form), prefix="config")
        again.is_valid()
        required = set(schema.get("required") or [])
        assert set(again.errors) <= required, (name, again.errors)


SCHEMA = {
    "properties": {
        "count": {"type": "integer"},
        "either": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}], "default": None},
        "flag": {"anyOf": [{"type": "boolean"}, {"type": "null"}], "default": None},
        "items": {"type": "array", "items": {"type": "integer"}},
        "key": {"type": "string", "format": "password"},
    },
    "required": ["count", "key"],
}


def test_values_are_typed_and_checked_against_the_schema():
    form = SchemaForm(SCHEMA, {"count": "3", "either": "abc", "flag": "true", "items": "[1, 2]", "key": "k"})
    assert form.is_valid(), form.errors
    assert form.configuration() == {"count": 3, "either": "abc", "flag": True, "items": [1, 2], "key": "k"}
    assert SchemaForm(SCHEMA, {"count": "3", "either": "7", "key": "k"}).is_valid()
    bad = SchemaForm(SCHEMA, {"count": "3", "items": '["x"]', "key": "s3cr3t-value"})
    assert not bad.is_valid() and "items.0: 'x' is not of type 'integer'" in bad.errors["items"]


@pytest.mark.parametrize("stored", [{"count": 1, "key": "s3cr3t-value"}])
def test_a_secret_is_never_rendered_and_a_blank_one_keeps_the_stored_value(stored):
    form = SchemaForm(SCHEMA, stored=stored)
    assert "s3cr3t-value" not in str(form) and 'type="password"' in str(form)
    kept = SchemaForm(SCHEMA, {"count": "2", "key": ""}, stored=stored)
    assert kept.is_valid() and kept.configuration() == {"count": 2, "key": "s3cr3t-value"}
    required = SchemaForm(SCHEMA, {"count": "2", "key": ""})
    assert not required.is_valid() and "key" in required.errors
