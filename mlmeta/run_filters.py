"""The runs list's filters: what a person picks in the dashboard (a pipeline, a status, a user, a
tag, a time range, a metadata key/operator/value, a sort, also by a metadata key's number), as a
django-filter FilterSet narrowing an already restricted queryset. Invalid values become form
errors; the valid ones still apply. Metadata values compare as on the API (mlmeta.metadata_queries).

The API's RunFilterSet speaks ZenML's operator grammar (`created=gte:...`); this FilterSet is the
dashboard's plain-field face of the same run columns, with the same URL parameters as before.
"""

import django_filters
from django import forms
from django.db.models import F

from core.api.filters import _parse_list
from mlmeta.choices import ExecutionStatus, MetadataResourceType, TaggableResourceType
from mlmeta.metadata_queries import VALUELESS, has_metadata, matches_among, sort_by_metadata
from mlmeta.models import PipelineRun, TagResource

# The duration sorts are exact reverses of each other (unfinished runs, without a duration, come
# first when longest first and last when shortest first), so one index on (tenant, -duration, -id)
# serves both, read forwards or backwards.
SORTS = {
    "-created": ("-created", "-pk"),
    "created": ("created", "-pk"),
    "name": ("name", "-pk"),
    "-name": ("-name", "-pk"),
    "status": ("status", "-created", "-pk"),
    "-duration": (F("duration").desc(nulls_first=True), "-pk"),
    "duration": (F("duration").asc(nulls_last=True), "pk"),
}
SORT_CHOICES = [
    ("-created", "Newest first"),
    ("created", "Oldest first"),
    ("name", "Name A to Z"),
    ("-name", "Name Z to A"),
    ("status", "Status"),
    ("-duration", "Longest first"),
    ("duration", "Shortest first"),
    ("-metadata", "Metadata key, highest first"),
    ("metadata", "Metadata key, lowest first"),
]
METADATA_OPERATORS = [
    ("equals", "="),
    ("notequals", "≠"),
    ("gt", ">"),
    ("gte", "≥"),
    ("lt", "<"),
    ("lte", "≤"),
    ("contains", "contains"),
    ("notcontains", "does not contain"),
    ("startswith", "starts with"),
    ("endswith", "ends with"),
    ("oneof", "one of (JSON list)"),
    ("notoneof", "none of (JSON list)"),
    ("isnull", "is null"),
    ("isnotnull", "is not null"),
]


class RunFilterForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        after, before = data.get("created_after"), data.get("created_before")
        if after and before and after > before:
            self.add_error("created_before", "The end of the time range is before its start.")
        self.clean_metadata_filter(data)
        if data.get("sort") in ("metadata", "-metadata") and not data.get("sort_key"):
            self.add_error("sort_key", "Name the metadata key to sort by.")
        return data

    def clean_metadata_filter(self, data) -> None:
        key, op, value = data.get("metadata_key"), data.get("metadata_op") or "equals", data.get("metadata_value")
        if "metadata_key" in self.errors or "metadata_value" in self.errors:
            return
        if not key:
            if value:
                self.add_error("metadata_key", "Name the metadata key the value is for.")
            return
        if op in VALUELESS:
            if value:
                self.add_error("metadata_value", f"The operator '{op}' takes no value.")
        elif not value:
            self.add_error("metadata_value", "Give the value to compare the metadata key with.")
        elif op in ("oneof", "notoneof"):
            try:
                _parse_list(value)
            except ValueError:
                self.add_error("metadata_value", 'Write the values as a JSON list, e.g. ["main", "dev"].')


class DashboardRunFilterSet(django_filters.FilterSet):
    pipeline = django_filters.UUIDFilter(field_name="pipeline_id")
    status = django_filters.ChoiceFilter(choices=ExecutionStatus.choices, empty_label="Any status")
    user = django_filters.CharFilter(field_name="user__username", max_length=150, label="User")
    tag = django_filters.CharFilter(method="filter_tag", max_length=255)
    created_after = django_filters.DateFilter(
        field_name="created", lookup_expr="date__gte", label="Created from", widget=forms.DateInput({"type": "date"})
    )
    created_before = django_filters.DateFilter(
        field_name="created", lookup_expr="date__lte", label="Created until", widget=forms.DateInput({"type": "date"})
    )
    metadata_key = django_filters.CharFilter(
        method="keep", max_length=255, label="Metadata key", widget=forms.TextInput({"placeholder": "accuracy"})
    )
    metadata_op = django_filters.ChoiceFilter(
        choices=METADATA_OPERATORS, method="keep", empty_label=None, label="Operator"
    )
    metadata_value = django_filters.CharFilter(
        method="keep", max_length=500, label="Value", widget=forms.TextInput({"placeholder": "0.9"})
    )
    sort = django_filters.ChoiceFilter(choices=SORT_CHOICES, method="keep", empty_label=None)
    sort_key = django_filters.CharFilter(
        method="keep", max_length=255, label="Sort by metadata key", widget=forms.TextInput({"placeholder": "accuracy"})
    )

    class Meta:
        model = PipelineRun
        fields = []
        form = RunFilterForm

    def filter_tag(self, runs, name, value):
        tagged = TagResource.objects.filter(resource_type=TaggableResourceType.PIPELINE_RUN, tag__name=value)
        return runs.filter(pk__in=tagged.values("resource_id"))

    def __init__(self, *args, window: int | None = None, **kwargs):
        """`window`: the last row the shown page needs (page number x page size), so a sort by a
        metadata key reads that many index entries instead of sorting every run. `counted` is then
        the list to count (unsorted, every row), as it is with a metadata condition (the metadata rows
        that match, the fastest to count, mlmeta.metadata_queries.matches_among)."""
        super().__init__(*args, **kwargs)
        self.window = window
        self.counted = None

    def keep(self, runs, name, value):
        return runs  # the metadata condition and the sort read several fields: filter_queryset applies them

    def filter_queryset(self, queryset):
        runs = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        tenant_id = getattr(getattr(self.request, "tenant", None), "pk", None)
        if data.get("metadata_key") and not self.form.has_error("metadata_value"):
            condition = (
                MetadataResourceType.PIPELINE_RUN,
                data["metadata_key"],
                data.get("metadata_op") or "equals",
                data.get("metadata_value") or "",
            )
            if tenant_id is not None:
                self.counted = matches_among(runs, *condition, tenant_id=tenant_id)
            runs = runs.filter(has_metadata(*condition))
        sort = data.get("sort") or "-created"
        if sort in ("metadata", "-metadata"):
            if not data.get("sort_key"):
                return runs.order_by(*SORTS["-created"])
            if self.counted is None:
                self.counted = runs
            return sort_by_metadata(
                runs,
                MetadataResourceType.PIPELINE_RUN,
                data["sort_key"],
                sort == "-metadata",
                window=self.window,
                tenant_id=tenant_id,
            )
        return runs.order_by(*SORTS[sort])
