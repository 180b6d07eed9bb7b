"""core.api.renderers: DRF's JSON bytes, written by orjson, and DRF's encoder where orjson cannot."""

import json

import orjson
import pytest

from core.api.renderers import ZenJSONRenderer


def test_the_renderer_matches_drf_and_falls_back_where_orjson_cannot():
    renderer = ZenJSONRenderer()
    data = {"name": "é ✓", "n": 1.5, "list": [1, None, True], 3: "int key"}
    assert renderer.render(data) == json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    huge = {"value": 10**30}
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(huge)
    assert json.loads(renderer.render(huge)) == huge
    assert renderer.render(None) == b"null"
