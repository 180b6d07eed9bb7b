"""The response envelope every entity travels in (wire.md section 5):
`{"body", "metadata", "resources", "id", "permission_denied", "name"}`."""

from collections import defaultdict

from core.api.timestamps import ts


def id_or_none(value) -> str | None:
    return None if value is None else str(value)


def denied(obj, name_attr: str | None = "name") -> dict:
    """A related row the caller may not read, as ZenML renders it: id and name, no contents."""
    data = {"body": None, "metadata": None, "resources": None, "id": str(obj.pk), "permission_denied": True}
    if name_attr:
        data["name"] = getattr(obj, name_attr)
    return data


def related(obj, path: str):
    """`obj.a.b` for the path "a.b"; None when a link on the way is empty."""
    for name in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, name)
    return obj


class Visibility:
    """Which related rows the caller may read: decided once per related model and page.

    Core knows no roles: it asks the related model's manager (duck-typed) for
    `readable_ids(user, ids, tenant=...)`, which tenants' restricted querysets answer in at most
    one query. Rows of models without one, and renders without a request, are readable."""

    def __init__(self, request):
        self.user = getattr(request, "user", None)
        self.tenant = getattr(request, "tenant", None)
        self.decided: dict = defaultdict(dict)  # model -> {pk: readable}

    def prime(self, rows) -> None:
        """Decide about all of `rows` (related objects of a page) with one question per model."""
        wanted = defaultdict(set)
        for row in {id(row): row for row in rows if row is not None}.values():  # a page shares most
            if row.pk not in self.decided[type(row)]:
                wanted[type(row)].add(row.pk)
        for model, ids in wanted.items():
            readable = self.readable_ids(model, ids)
            self.decided[model].update({pk: pk in readable for pk in ids})

    def readable_ids(self, model, ids) -> set:
        decide = getattr(model._default_manager, "readable_ids", None)
        if decide is None or self.user is None:
            return set(ids)
        return set(decide(self.user, ids, tenant=self.tenant))

    def may_read(self, row) -> bool:
        if row.pk not in self.decided[type(row)]:
            self.prime([row])
        return self.decided[type(row)][row.pk]


class Envelope:
    """Renders one model instance. Subclasses fill `body`, `metadata` and `resources`.

    `metadata` is only rendered when hydrated; `resources` too, unless the real server fills
    them on lists as well (`resources_always`, e.g. runs). `prefetch()` loads what rendering
    needs in a bounded number of queries.
    """

    name_attr: str | None = "name"
    resources_always = False
    resources_empty: dict | None = None  # what non-hydrated `resources` is when not always filled
    related_paths: tuple[str, ...] = ()  # related rows rendered nested, checked for the caller
    # Foreign keys the rows of a page share (a few users, artifacts): page envelopes load each
    # distinct row once for the page instead of joining it to every row; `prefetch_one` joins them.
    page_relations: tuple[str, ...] = ()

    def __init__(self, request=None, hydrate: bool = False):
        self.request = request
        self.hydrate = hydrate
        self.visibility = Visibility(request) if request is not None else None

    def prime(self, objects) -> None:
        """Decide which of the page's related rows (`related_paths`) the caller may read."""
        if self.visibility is not None and self.related_paths:
            self.visibility.prime(related(obj, path) for obj in objects for path in self.related_paths)

    def visible(self, row) -> bool:
        return row is not None and (self.visibility is None or self.visibility.may_read(row))

    def render(self, obj) -> dict:
        self.prime([obj])
        return self.assemble(obj)

    def render_many(self, objects) -> list[dict]:
        objects = list(objects)
        self.prime(objects)
        return [self.assemble(obj) for obj in objects]

    def assemble(self, obj) -> dict:
        """The envelope of `obj`, its related rows' visibility decided (`prime`) beforehand."""
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

    def body(self, obj) -> dict:
        return {"created": ts(obj.created), "updated": ts(obj.updated)}

    def metadata(self, obj) -> dict:
        return {}

    def resources(self, obj) -> dict | None:
        return None

    @classmethod
    def prefetch(cls, queryset, hydrate: bool):
        return queryset

    @classmethod
    def prefetch_one(cls, queryset, hydrate: bool):
        """`prefetch` for one object (or the few a write made): `page_relations` joined, which costs
        less than their own queries."""
        queryset = cls.prefetch(queryset, hydrate)
        return queryset.select_related(*cls.page_relations) if cls.page_relations else queryset


class OwnedEnvelope(Envelope):
    """Body of tenant-owned rows: adds `user_id` (and `project_id` for project-scoped ones)."""

    project_scoped = True

    def body(self, obj) -> dict:
        body = super().body(obj)
        body["user_id"] = id_or_none(obj.user_id)
        if self.project_scoped:
            body["project_id"] = str(obj.project_id)
        return body
