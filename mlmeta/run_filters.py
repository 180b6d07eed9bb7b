"""The runs list's filter form: what a person picks in the dashboard (a pipeline, a status, a tag,
a time range, a metadata `key=value`), narrowed onto an already restricted queryset.

The API's RunFilterSet speaks ZenML's operator grammar (`created=gte:...`); this form is the
dashboard's plain-field face of the same run columns.
"""

import json

from django import forms
from django.db.models import F

from mlmeta.choices import ExecutionStatus, MetadataResourceType, TaggableResourceType
from mlmeta.models import RunMetadata, TagResource

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


class RunFilterForm(forms.Form):
    pipeline = forms.UUIDField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *ExecutionStatus.choices])
    user = forms.CharField(required=False, max_length=150, label="User")
    tag = forms.CharField(required=False, max_length=255)
    created_after = forms.DateField(required=False, label="Created from", widget=forms.DateInput({"type": "date"}))
    created_before = forms.DateField(required=False, label="Created until", widget=forms.DateInput({"type": "date"}))
    metadata = forms.CharField(
        required=False, max_length=500, label="Metadata", widget=forms.TextInput({"placeholder": "key=value"})
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("-created", "Newest first"),
            ("created", "Oldest first"),
            ("name", "Name A to Z"),
            ("-name", "Name Z to A"),
            ("status", "Status"),
            ("-duration", "Longest first"),
            ("duration", "Shortest first"),
        ],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)

    def clean_metadata(self):
        value = self.cleaned_data["metadata"].strip()
        if value and "=" not in value:
            raise forms.ValidationError("Write the metadata filter as key=value.")
        return value

    def filter(self, runs):
        """`runs` (already restricted to what the user may read) narrowed by the valid fields and sorted."""
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("pipeline"):
            runs = runs.filter(pipeline_id=data["pipeline"])
        if data.get("status"):
            runs = runs.filter(status=data["status"])
        if data.get("user"):
            runs = runs.filter(user__username=data["user"])
        if data.get("tag"):
            tagged = TagResource.objects.filter(
                resource_type=TaggableResourceType.PIPELINE_RUN, tag__name=data["tag"]
            ).values("resource_id")
            runs = runs.filter(pk__in=tagged)
        if data.get("created_after"):
            runs = runs.filter(created__date__gte=data["created_after"])
        if data.get("created_before"):
            runs = runs.filter(created__date__lte=data["created_before"])
        if data.get("metadata"):
            runs = runs.filter(pk__in=self._metadata_matches(data["metadata"]))
        return self._sorted(runs, data.get("sort") or "-created")

    @staticmethod
    def _metadata_matches(expression: str):
        """Run ids with metadata `key` equal to `value` (read as JSON when it parses: 0.9, true, "x")."""
        key, _, raw = expression.partition("=")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw.strip()
        return RunMetadata.objects.filter(
            resource_type=MetadataResourceType.PIPELINE_RUN, key=key.strip(), value=value
        ).values("resource_id")

    @staticmethod
    def _sorted(runs, sort: str):
        return runs.order_by(*SORTS[sort])
