from core.api.filters import ZenFilter
from core.api.pagination import page_params
from core.api.validation import invalid
from mlmeta.metadata_queries import (
    has_metadata,
    has_metadata_to_count,
    matches_among,
    parse_entry,
    sort_by_metadata,
)

SORT_PREFIX = "run_metadata:"


class MetadataFilter(ZenFilter):
    """ZenML's `run_metadata=key:value` / `key:op:value` (mlmeta.metadata_queries has the rules)."""

    counts_differently = True

    def __init__(self, resource_type: str, **kwargs):
        super().__init__(field_name="run_metadata", **kwargs)
        self.resource_type = resource_type

    def condition(self, raw: str):
        return self.built(raw, has_metadata)

    def counting_condition(self, raw: str):
        tenant_id = self.tenant_id()
        if tenant_id is None:
            return self.condition(raw)
        return self.built(raw, lambda *entry: has_metadata_to_count(*entry, tenant_id=tenant_id))

    def matches_among(self, raw: str, rows):
        tenant_id = self.tenant_id()
        if tenant_id is None:
            return None
        return self.built(raw, lambda *entry: matches_among(rows, *entry, tenant_id=tenant_id))

    def built(self, raw: str, build):
        """`build(resource_type, key, op, operand)` of the entry `raw`; a 422 naming what is wrong."""
        if "\x00" in raw:
            raise invalid("run_metadata", "Input should not contain NUL characters", raw, "query")
        try:
            return build(self.resource_type, *parse_entry(raw))
        except ValueError as exc:
            raise invalid("run_metadata", str(exc), raw, "query") from None

    def tenant_id(self):
        return tenant_id_of(self.parent.request)


class MetadataSortMixin:
    """`sort_by=[asc:|desc:]run_metadata:<key>` (an MLMeta extension): by the key's number, missing last."""

    metadata_resource_type = ""

    def sort(self, queryset, sort_by):
        direction, _, field = (sort_by or "").partition(":")
        if direction == SORT_PREFIX.rstrip(":"):
            direction, field = "asc", sort_by
        if direction not in ("asc", "desc") or not field.startswith(SORT_PREFIX):
            return super().sort(queryset, sort_by)
        key = field.removeprefix(SORT_PREFIX)
        if not key:
            raise invalid("sort_by", "Name the metadata key to sort by: run_metadata:<key>", sort_by, "query")
        page, size = page_params(self.data)
        return sort_by_metadata(
            queryset,
            self.metadata_resource_type,
            key,
            descending=direction == "desc",
            window=page * size + 1,
            tenant_id=tenant_id_of(self.request),
        )


def tenant_id_of(request):
    """The id of the tenant the request is in (tenants.middleware), None outside one."""
    tenant = getattr(request, "tenant", None)
    return tenant.pk if tenant else None
