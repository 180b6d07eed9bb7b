from django.db import models
from django.db.models import F
from django.db.models.functions import Left

from mlmeta.choices import ColorVariant, MetadataResourceType, TaggableResourceType
from tenants.models import ProjectOwnedModel, TenantChildModel, TenantOwnedModel

__all__ = ["JsonNumber", "JsonText", "RunMetadata", "Tag", "TagResource"]


class JsonNumber(models.Func):
    """A JSON value as a float when it is a JSON number (not a bool), else NULL. PostgreSQL also
    gives NULL for numbers a float cannot hold (10**400), so such a value never fails its insert."""

    output_field = models.FloatField()

    def as_sql(self, compiler, connection, **extra):
        raise NotImplementedError(f"JsonNumber is not implemented for {connection.vendor}")

    def as_sqlite(self, compiler, connection, **extra):
        template = (
            "CASE WHEN json_type(%(expressions)s) IN ('integer', 'real') THEN json_extract(%(expressions)s, '$') END"
        )
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        number = "(%(expressions)s)::numeric"
        template = (
            f"CASE WHEN jsonb_typeof(%(expressions)s) = 'number' AND abs({number}) < 1e308"
            f" AND (abs({number}) > 1e-307 OR {number} = 0) THEN {number}::double precision END"
        )
        return super().as_sql(compiler, connection, template=template, **extra)


class JsonText(models.Func):
    """A JSON value as text when it is a JSON string, else NULL."""

    output_field = models.TextField()

    def as_sql(self, compiler, connection, **extra):
        raise NotImplementedError(f"JsonText is not implemented for {connection.vendor}")

    def as_sqlite(self, compiler, connection, **extra):
        template = "CASE WHEN json_type(%(expressions)s) = 'text' THEN json_extract(%(expressions)s, '$') END"
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        template = "CASE WHEN jsonb_typeof(%(expressions)s) = 'string' THEN %(expressions)s #>> '{}' END"
        return super().as_sql(compiler, connection, template=template, **extra)


# Indexed length of string values: a B-tree entry must stay under ~2,700 bytes, and longer strings
# are never a filter's equality operand in practice.
TEXT_PREFIX = 200
REPLACED_ON_RELOG = ("value", "type", "user", "project", "stack_component", "publisher_step", "created", "updated")


class RunMetadata(ProjectOwnedModel):
    """The newest value of one key logged against a run, step, artifact version, model version or
    schedule: logging a key again replaces its value (`log`), as the envelopes always showed only
    the newest. `number` and `text` are kept by the database for filters and sorts by value."""

    rbac_type = "run_metadata"

    resource_type = models.CharField(max_length=32, choices=MetadataResourceType.choices)
    resource_id = models.UUIDField()
    key = models.CharField(max_length=255)
    value = models.JSONField(null=True)
    number = models.GeneratedField(
        expression=JsonNumber("value"), output_field=models.FloatField(), db_persist=True, null=True
    )
    text = models.GeneratedField(
        expression=JsonText("value"), output_field=models.TextField(), db_persist=True, null=True
    )
    type = models.CharField(max_length=64)
    stack_component = models.ForeignKey(
        "mlmeta.StackComponent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    publisher_step = models.ForeignKey(
        "mlmeta.StepRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="published_metadata"
    )

    class Meta(ProjectOwnedModel.Meta):
        verbose_name_plural = "run metadata"
        constraints = [
            models.UniqueConstraint(
                fields=["resource_type", "resource_id", "key"], name="metadata_resource_key_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["project", "key"], name="metadata_project_key"),
            # "sort runs by accuracy" and "accuracy > 0.9" read this in order within a tenant; with
            # the resource id in it, counting the matches is an index-only scan.
            models.Index(
                fields=["tenant", "resource_type", "key", "number", "resource_id"], name="metadata_key_number"
            ),
            # "branch = main": string equality reads this one (mlmeta.metadata_queries.text_equals).
            models.Index(
                F("tenant"),
                F("resource_type"),
                F("key"),
                Left("text", TEXT_PREFIX),
                F("resource_id"),
                name="metadata_key_text",
            ),
        ]

    def __str__(self):
        return f"{self.key}={self.value!r}"

    @classmethod
    def log(cls, rows) -> None:
        """Insert `rows`, replacing the value of a key already logged for the same resource
        (within `rows` too: the last one wins)."""
        newest = {(row.resource_type, row.resource_id, row.key): row for row in rows}
        cls.objects.bulk_create(
            newest.values(),
            update_conflicts=True,
            unique_fields=["resource_type", "resource_id", "key"],
            update_fields=REPLACED_ON_RELOG,
        )


class Tag(TenantOwnedModel):
    """A label for runs, artifacts, models, ...; an exclusive tag sits on one resource of a kind at a time."""

    rbac_type = "tag"

    name = models.CharField(max_length=255)
    color = models.CharField(max_length=16, choices=ColorVariant.choices, default=ColorVariant.GREY)
    exclusive = models.BooleanField(default=False)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="tag_name_unique_in_tenant")]

    def __str__(self):
        return self.name


class TagResource(TenantChildModel):
    """A tag placed on one resource (any taggable type, by id)."""

    parent_field = "tag"

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="links")
    resource_type = models.CharField(max_length=32, choices=TaggableResourceType.choices)
    resource_id = models.UUIDField()

    class Meta(TenantChildModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tag", "resource_type", "resource_id"], name="tag_resource_unique"),
        ]
        indexes = [models.Index(fields=["resource_type", "resource_id"], name="tagresource_resource")]

    def __str__(self):
        return f"{self.tag} on {self.resource_type} {self.resource_id}"
