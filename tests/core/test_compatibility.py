"""docs/compatibility.md is current, and MLMeta serves no `/api/v1` route the real ZenML server
lacks unless the document lists it under "MLMeta additions"."""

import importlib.util

import pytest

from config.settings import BASE_DIR

COMPAT = BASE_DIR / "docs" / "compat.py"


@pytest.fixture(scope="module")
def compat():
    spec = importlib.util.spec_from_file_location("compat", COMPAT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def committed(compat):
    return compat.DOC.read_text()


def test_compatibility_table_is_up_to_date(compat, committed):
    assert committed == compat.render(), "docs/compatibility.md is stale: run .venv/bin/python docs/compat.py"


def test_table_lists_every_openapi_operation(compat, committed):
    operations = compat.openapi_operations()
    assert len(operations) == 268
    for op in operations:
        assert f"| {op['method']} | `{op['path']}` |" in committed


def test_served_routes_are_zenml_operations_or_listed_additions(compat, committed):
    real = {(op["method"], compat.shape(op["path"])) for op in compat.openapi_operations()}
    additions = compat.parse_additions(committed)
    unexpected = compat.served_routes() - real - additions
    assert not unexpected, f"routes neither in ZenML's API nor in 'MLMeta additions': {sorted(unexpected)}"


def test_listed_additions_are_still_served(compat, committed):
    stale = compat.parse_additions(committed) - compat.served_routes()
    assert not stale, f"'MLMeta additions' lists routes MLMeta no longer serves: {sorted(stale)}"


def test_a_literal_segment_is_not_taken_for_an_id(compat):
    # `/pipeline_snapshots/prune` resolves to the snapshot detail route with pk="prune"; that
    # route does not answer POST, and its shape differs, so the check does not count it.
    assert compat.shape("/api/v1/pipeline_snapshots/{snapshot_id}") == "/api/v1/pipeline_snapshots/{}"
    assert compat.is_implemented("GET", "/api/v1/runs/{run_id}")
    assert not compat.is_implemented("GET", "/api/v1/webhooks")
