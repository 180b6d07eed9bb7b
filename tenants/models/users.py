import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models

from tenants.querysets import UserManager

__all__ = ["User"]


class User(AbstractUser):
    """A person, or a service account (a tenant's robot, logging in with API keys); `username` is
    ZenML's user `name`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    full_name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True, help_text="What a service account is for.")
    is_service_account = models.BooleanField(default=False)
    organization = models.ForeignKey(
        "tenants.Organization",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="service_accounts",
        help_text="The organization a service account belongs to (people join organizations through roles).",
    )
    avatar_url = models.URLField(max_length=1024, blank=True, null=True)
    email_opted_in = models.BooleanField(null=True, blank=True)
    external_user_id = models.UUIDField(null=True, blank=True)
    user_metadata = models.JSONField(default=dict, blank=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    objects = UserManager()
    rbac_shape = {
        "type": "user",
        "tenant": "memberships__tenant_id",
        "org": "organization_id",
        "project": None,
        "owner": None,
        "ident": None,
        "many": True,
    }

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ["username"]

    def __str__(self):
        return self.username

    @property
    def created(self):
        return self.date_joined
