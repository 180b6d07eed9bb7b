from django.db import models


class BackendRole(models.TextChoices):
    """What a tenant's secrets backend is for. Every role but `retired` receives each write."""

    PRIMARY = "primary", "primary"  # read first
    BACKUP = "backup", "backup"  # read when the primary fails
    TARGET = "target", "migration target"  # `migrate_secrets` is copying values here
    RETIRED = "retired", "retired"  # the primary before a migration; its values await deletion


class BackendAuthMethod(models.TextChoices):
    TOKEN = "token", "token"
    APPROLE = "approle", "AppRole (role_id + secret_id)"
