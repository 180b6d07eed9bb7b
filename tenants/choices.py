from django.db import models


class OAuthDeviceStatus(models.TextChoices):
    PENDING = "pending"
    VERIFIED = "verified"
    ACTIVE = "active"
    LOCKED = "locked"


class RoleLevel(models.TextChoices):
    ORGANIZATION = "organization"
    TENANT = "tenant"
    PROJECT = "project"


class AuditAction(models.TextChoices):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    ROLE_ASSIGNED = "role_assigned"
    ROLE_REVOKED = "role_revoked"
    READ_SECRET_VALUE = "read_secret_value"
    PERMISSION_DENIED = "permission_denied"
    KEY_ROTATED = "key_rotated"
