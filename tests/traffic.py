"""Replaying the recorded ZenML traffic (tests/fixtures/zenml/traffic-sample.jsonl) against MLMeta.

Recorded ids are mapped to ours as responses come in (a recorded response's `id` becomes the
id MLMeta answered with), so later requests of a scenario address the rows MLMeta created.
"""

import json
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "zenml" / "traffic-sample.jsonl"


def is_redacted(value) -> bool:
    """The recording hides secrets as `<redacted>` or `<device_code redacted>`."""
    return isinstance(value, str) and value.startswith("<") and value.endswith("redacted>")


@cache
def exchanges() -> tuple[dict, ...]:
    with FIXTURE.open() as lines:
        return tuple(json.loads(line) for line in lines)


def recorded(step: str, method: str, path_start: str, status: int | None = None, exact: bool = False) -> list[dict]:
    """The exchanges of a scenario step to paths starting with `path_start` (relative to /api/v1),
    or equal to it with `exact`."""
    found = []
    for e in exchanges():
        path = e["path"].removeprefix("/api/v1")
        if e["scenario_step"] != step or e["method"] != method or (status is not None and e["status"] != status):
            continue
        if path == path_start or (not exact and path.startswith(path_start)):
            found.append(e)
    return found


def envelope_keys(entity: dict) -> dict:
    """The shape of an entity: its top-level keys and those of body, metadata and resources."""
    shape = {"": sorted(entity)}
    for part in ("body", "metadata", "resources"):
        if isinstance(entity.get(part), dict):
            shape[part] = sorted(entity[part])
    return shape


class Replayer:
    def __init__(self, client, ids: dict | None = None, secrets: dict | None = None):
        self.client = client
        self.ids = {str(k): str(v) for k, v in (ids or {}).items()}
        self.secrets = secrets or {}  # values to send in place of redacted request fields

    def substitute(self, value):
        text = json.dumps(value)
        for old, new in self.ids.items():
            text = text.replace(old, new)
        return json.loads(text)

    def send(self, exchange: dict, **overrides):
        path = self.substitute(exchange["path"])
        query = self.substitute(exchange["query"] or {})
        url = f"{path}?{urlencode(query, doseq=True)}" if query else path
        body = self.substitute(exchange["req_body"])
        if isinstance(body, dict):
            body = {k: self.secrets.get(k, v) if is_redacted(v) else v for k, v in body.items()}
            if isinstance(body.get("values"), dict):
                body["values"] = {k: self.secrets.get(k, f"value-of-{k}") for k in body["values"]}
        method = exchange["method"].lower()
        if isinstance(body, dict) and "_form" in body:
            form = {k: (v[0] if isinstance(v, list) else v) for k, v in body["_form"].items()}
            form = {k: self.secrets.get(k, v) if is_redacted(v) else v for k, v in form.items()}
            form.update(overrides)
            response = getattr(self.client, method)(url, form)
        elif body is None:
            response = getattr(self.client, method)(url)
        else:
            response = getattr(self.client, method)(url, body, format="json")
        assert response.status_code == exchange["status"], (exchange["seq"], response.status_code, response.content)
        self.learn(exchange["resp_body"], response.json())
        return response

    def learn(self, recorded_value, actual) -> None:
        """Map the ids of a recorded response to those of MLMeta's answer, walking both together."""
        if isinstance(recorded_value, dict) and isinstance(actual, dict):
            if isinstance(recorded_value.get("id"), str) and isinstance(actual.get("id"), str):
                self.ids.setdefault(recorded_value["id"], actual["id"])
            for key, value in recorded_value.items():
                if key in actual:
                    self.learn(value, actual[key])
        elif isinstance(recorded_value, list) and isinstance(actual, list):
            for pair in zip(recorded_value, actual, strict=False):
                self.learn(*pair)


def url(path: str, **query) -> str:
    return f"{path}?{urlencode(query)}" if query else path
