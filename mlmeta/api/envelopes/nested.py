"""Entities nested in other entities' `resources`, and envelopes that load page-wide data once."""

from core.api.envelope import OwnedEnvelope, denied
from core.rawsql import keyed_queries, together
from mlmeta.api.envelopes.common import TagEnvelope
from tenants.api.envelopes import nested_user


def nested(envelope_class, obj, within=None) -> dict | None:
    """The shape ZenML nests related entities in: body only, `metadata` and `resources` null.
    Rendered `within` an envelope of a request, a row the caller may not read is `denied`."""
    if obj is None:
        return None
    if within is not None and not within.visible(obj):
        return denied(obj, envelope_class.name_attr)
    envelope = envelope_class()
    data = {
        "body": envelope.body(obj),
        "metadata": None,
        "resources": None,
        "id": str(obj.pk),
        "permission_denied": False,
    }
    if envelope.name_attr:
        data["name"] = getattr(obj, envelope.name_attr)
    return data


# Rows of a model by primary key: `by_pk(model)` is the model's KeyedQuery, compiled once.
by_pk = keyed_queries(lambda model, ids: model._default_manager.filter(pk__in=ids))


def load_keyed(objects, name: str, query=None) -> None:
    """Load the rows that `objects` link to through the foreign key `name`, one query for the
    page (`query`: a `core.rawsql.KeyedQuery` by primary key; by default all columns), leaving out
    the objects whose key is empty or whose row is loaded already."""
    send_keyed(objects, name, query)()


def send_keyed(objects, name: str, query=None):
    """`load_keyed` in two steps: the query is sent now (inside `core.rawsql.together()`, with
    others), and the function returned puts the rows on the objects."""
    field = type(objects[0])._meta.get_field(name) if objects else None
    missing = [obj for obj in objects if unloaded(obj, name)]
    if not missing:
        return lambda: None
    query = query or by_pk(field.related_model)
    sent = query.send({getattr(obj, field.attname) for obj in missing})

    def put():
        found = {row.pk: row for row in sent.objects()}
        for obj in missing:
            field.set_cached_value(obj, found.get(getattr(obj, field.attname)))

    return put


def unloaded(obj, name: str) -> bool:
    """Whether the foreign key `name` of `obj` points at a row that is not loaded yet."""
    descriptor = getattr(type(obj), name)
    return getattr(obj, descriptor.field.attname) is not None and not descriptor.is_cached(obj)


class PageEnvelope(OwnedEnvelope):
    """An envelope whose rendering needs rows outside the object (tags, metadata, ...): `load()`
    fetches them for a whole page at once; a single `render()` loads them for its one object."""

    resources_always = True

    def __init__(self, request=None, hydrate: bool = False):
        super().__init__(request, hydrate)
        self.loaded: set = set()
        self.shared: dict = {}

    def once(self, key, make):
        """`make()`, called once per `key` and envelope: what the rows of a page share (a few
        snapshots, stacks, pipelines, users, tags) is built once. The value is shared: never change it."""
        if key not in self.shared:
            self.shared[key] = make()
        return self.shared[key]

    def nested(self, envelope_class, obj) -> dict | None:
        """`nested(envelope_class, obj, self)`, built once per related row."""
        return None if obj is None else self.once((envelope_class, obj.pk), lambda: nested(envelope_class, obj, self))

    def user(self, user) -> dict | None:
        return None if user is None else self.once(("user", user.pk), lambda: nested_user(user))

    def tag(self, tag) -> dict:
        return self.once(("tag", tag.pk), lambda: TagEnvelope(self.request).render(tag))

    def render_many(self, objects) -> list[dict]:
        objects = list(objects)
        self._load(objects)
        return super().render_many(objects)

    def render(self, obj) -> dict:
        if obj.pk not in self.loaded:
            self._load([obj])
        return super().render(obj)

    def _load(self, objects) -> None:
        if objects:
            with together():  # one round trip for what depends only on the page
                puts = [send_keyed(objects, name) for name in self.page_relations]
                self.send(objects)
            for put in puts:
                put()
            self.load(objects)
        self.loaded.update(obj.pk for obj in objects)

    def send(self, objects) -> None:
        """Send the queries `load` reads that depend only on `objects` (`KeyedQuery.send()`),
        sent with the page's relations in one round trip; `load` reads them."""

    def load(self, objects) -> None:
        """Fetch what `body`/`metadata`/`resources` need for `objects` (a page)."""
