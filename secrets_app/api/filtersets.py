import json

import django_filters
from django.db.models import Q, TextField
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Cast

from core.api.filters import ZenFilter, ZenFilterSet
from core.api.validation import invalid


class SecretFilterSet(ZenFilterSet):
    name = ZenFilter("name")
    private = ZenFilter("private", kind="bool")
    user = ZenFilter("user", kind="ref", name_field="username")

    sort_fields = ("created", "updated", "id", "name", "private")


def _has_resource_type(operator, value) -> Q:
    """`resource_type=s3-bucket`: connectors whose resource_types list holds it (a match in the
    list's JSON text, which SQLite and PostgreSQL both can do)."""
    from secrets_app.models import ServiceConnector

    values = value if isinstance(value, list) else [value]
    as_text = ServiceConnector.objects.annotate(types_text=Cast("resource_types", TextField()))
    matches = Q(pk__in=[])
    for item in values:
        matches |= Q(types_text__contains=json.dumps(item))
    return Q(pk__in=as_text.filter(matches).values("pk"))


class ServiceConnectorFilterSet(ZenFilterSet):
    name = ZenFilter("name")
    user = ZenFilter("user", kind="ref", name_field="username")
    scope_user = ZenFilter("user_id", kind="uuid")
    connector_type = ZenFilter("connector_type")
    auth_method = ZenFilter("auth_method")
    resource_type = ZenFilter("resource_types", q=_has_resource_type)
    resource_id = ZenFilter("resource_id")

    sort_fields = ("created", "updated", "id", "name", "connector_type", "auth_method", "resource_id")

    def filter_queryset(self, queryset):
        return filter_labels(super().filter_queryset(queryset), self.data.get("labels_str"))


def filter_labels(queryset, labels_str: str | None):
    """ZenML's `labels_str`: a JSON object; every key must be a label, with that value unless null."""
    if not labels_str:
        return queryset
    try:
        labels = json.loads(labels_str)
    except ValueError:
        labels = None
    if not isinstance(labels, dict):
        raise invalid("labels_str", "Input should be a JSON object of labels", labels_str, "query")
    for index, (key, value) in enumerate(labels.items()):
        queryset = queryset.filter(labels__has_key=str(key))
        if value is not None:  # through an alias: a key may contain "__"
            queryset = queryset.alias(**{f"label_{index}": KeyTransform(str(key), "labels")})
            queryset = queryset.filter(**{f"label_{index}": str(value)})
    return queryset


class ServiceConnectorTypeFilterSet(django_filters.FilterSet):
    """`GET /service_connector_types` takes three plain names (no ZenML filter operators)."""

    connector_type = django_filters.CharFilter()
    resource_type = django_filters.CharFilter()
    auth_method = django_filters.CharFilter()
