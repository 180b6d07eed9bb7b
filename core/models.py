"""Abstract bases shared by every app. No concrete (domain) models live in core."""

import uuid

from django.db import models
from django.utils import timezone


class BaseModel(models.Model):
    """UUID primary key (the public id, as on ZenML's wire) plus created/updated timestamps."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # A default rather than auto_now_add, so imports and demo data can keep their original times.
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-created"]
        get_latest_by = "created"
