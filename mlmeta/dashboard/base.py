"""What the artifact, model and comparison pages share: object lookup by id through rbac,
tags of a page of rows, metadata of one resource."""

from django.http import Http404

from mlmeta.models import RunMetadata, TagResource
from tenants.views import TenantViewMixin

METADATA_SHOWN = 200


class RegistryPage(TenantViewMixin):
    """A dashboard page that looks rows up only through `restrict()` (tenant + RBAC)."""

    def get_or_404(self, queryset, pk):
        obj = queryset.filter(pk=pk).first()
        if obj is None:
            raise Http404("There is no such object in this tenant, or you may not see it.")
        return obj

    def tags_by_resource(self, resource_type: str, ids) -> dict:
        """{resource id: [tag, ...]} for the rows of one page, in one query."""
        links = self.restrict(TagResource).filter(resource_type=resource_type, resource_id__in=list(ids))
        tags: dict = {}
        for link in links.select_related("tag").order_by("tag__name"):
            tags.setdefault(link.resource_id, []).append(link.tag)
        return tags

    def metadata_of(self, resource_type: str, resource_id):
        rows = self.restrict(RunMetadata).filter(resource_type=resource_type, resource_id=resource_id)
        return rows.order_by("key")[:METADATA_SHOWN]
