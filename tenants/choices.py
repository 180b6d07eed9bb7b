from django.db import models


class OAuthDeviceStatus(models.TextChoices):
    PENDING = "pending"
    VERIFIED = "verified"
    ACTIVE = "active"
    LOCKED = "locked"
