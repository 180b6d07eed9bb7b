from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _seed_roles(sender, using="default", **kwargs):
    from tenants.access import ensure_builtin_roles

    ensure_builtin_roles()


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants and access"

    def ready(self):
        post_migrate.connect(_seed_roles, sender=self, dispatch_uid="tenants-seed-roles")
        _connect_audit()


def _connect_audit():
    """The audit trail listens to the framework's signals (core, django.contrib.auth, axes)."""
    from axes.signals import user_locked_out
    from django.contrib.auth import signals as auth

    from core import signals as core
    from tenants import audit

    core.access_denied.connect(audit.on_access_denied, dispatch_uid="tenants-audit-denied")
    core.resource_changed.connect(audit.on_resource_changed, dispatch_uid="tenants-audit-changed")
    auth.user_logged_in.connect(audit.on_user_logged_in, dispatch_uid="tenants-audit-login")
    auth.user_logged_out.connect(audit.on_user_logged_out, dispatch_uid="tenants-audit-logout")
    auth.user_login_failed.connect(audit.on_user_login_failed, dispatch_uid="tenants-audit-login-failed")
    user_locked_out.connect(audit.on_user_locked_out, dispatch_uid="tenants-audit-locked-out")
