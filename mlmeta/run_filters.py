"""The runs list's filters: what a person picks in the dashboard (a pipeline, a status, a user, a
tag, a time range, a metadata `key=value`, a sort), as a django-filter FilterSet narrowing an
already restricted queryset. Invalid values become form errors; the valid ones still apply.

The API's RunFilterSet speaks ZenML's operator grammar (`created=gte:...`); this FilterSet is the
dashboard's plain-field face of the same run columns, with the same URL parameters as before.
"""

import json
import math

import django_filters
from django import forms
from django.db.models import F

from mlmeta.choices import ExecutionStatus, MetadataResourceType, TaggableResourceType
from mlmeta.models import PipelineRun, RunMetadata, TagResource

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
]


def _json_or_text(raw: str):
    """`raw` read as JSON when it parses to a value JSON can store (not NaN or infinity), else as text."""
    try:
        return json.loads(raw, parse_constant=_refuse, parse_float=_finite)
    except ValueError:
        return raw.strip()


def _refuse(constant: str):
    raise ValueError(constant)


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(text)
    return number


class RunFilterForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_metadata(self):
        value = (self.cleaned_data.get("metadata") or "").strip()
        if value and ("=" not in value or not value.partition("=")[0].strip()):
            raise forms.ValidationError("Write the metadata filter as key=value.")
        return value

    def clean(self):
        data = super().clean()
        after, before = data.get("created_after"), data.get("created_before")
        if after and before and after > before:
            self.add_error("created_before", "The end of the time range is before its start.")
        return data


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
    metadata = django_filters.CharFilter(
        method="filter_metadata", max_length=500, label="Metadata", widget=forms.TextInput({"placeholder": "key=value"})
    )
    sort = django_filters.ChoiceFilter(choices=SORT_CHOICES, method="keep", empty_label=None)

    class Meta:
        model = PipelineRun
        fields = []
        form = RunFilterForm

    def filter_tag(self, runs, name, value):
        tagged = TagResource.objects.filter(resource_type=TaggableResourceType.PIPELINE_RUN, tag__name=value)
        return runs.filter(pk__in=tagged.values("resource_id"))

    def filter_metadata(self, runs, name, value):
        """Runs with metadata `key` equal to `value` (read as JSON when it parses: 0.9, true, "x")."""
        key, _, raw = value.partition("=")
        matches = RunMetadata.objects.filter(
            resource_type=MetadataResourceType.PIPELINE_RUN, key=key.strip(), value=_json_or_text(raw)
        ).values("resource_id")
        return runs.filter(pk__in=matches)

    def keep(self, runs, name, value):
        return runs  # the sort is applied last, in filter_queryset

    def filter_queryset(self, queryset):
        runs = super().filter_queryset(queryset)
        return runs.order_by(*SORTS[self.form.cleaned_data.get("sort") or "-created"])
