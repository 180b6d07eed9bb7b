"""The response envelope every entity travels in (wire.md section 5):
`{"body", "metadata", "resources", "id", "permission_denied", "name"}`."""

from core.api.timestamps import ts


def id_or_none(value) -> str | None:
    return None if value is None else str(value)


class Envelope:
    """Renders one model instance. Subclasses fill `body`, `metadata` and `resources`.

    `metadata` is only rendered when hydrated; `resources` too, unless the real server fills
    them on lists as well (`resources_always`, e.g. runs). `prefetch()` loads what rendering
    needs in a bounded number of queries.
    """

    name_attr: str | None = "name"
    resources_always = False
    resources_empty: dict | None = None  # what non-hydrated `resources` is when not always filled

    def __init__(self, request=None, hydrate: bool = False):
        self.request = request
        self.hydrate = hydrate

    def render(self, obj) -> dict:
        data = {
            "body": self.body(obj),
            "metadata": self.metadata(obj) if self.hydrate else None,
            "resources": self.resources(obj) if (self.hydrate or self.resources_always) else self.resources_empty,
            "id": str(obj.pk),
            "permission_denied": False,
        }
        if self.name_attr:
            data["name"] = getattr(obj, self.name_attr)
        return data

    def render_many(self, objects) -> list[dict]:
        return [self.render(obj) for obj in objects]

    def body(self, obj) -> dict:
        return {"created": ts(obj.created), "updated": ts(obj.updated)}

    def metadata(self, obj) -> dict:
        return {}

    def resources(self, obj) -> dict | None:
        return None

    @classmethod
    def prefetch(cls, queryset, hydrate: bool):
        return queryset


class OwnedEnvelope(Envelope):
    """Body of tenant-owned rows: adds `user_id` (and `project_id` for project-scoped ones)."""

    project_scoped = True

    def body(self, obj) -> dict:
        body = super().body(obj)
        body["user_id"] = id_or_none(obj.user_id)
        if self.project_scoped:
            body["project_id"] = str(obj.project_id)
        return body
