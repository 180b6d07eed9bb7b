import os
import secrets

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import transaction

from core.commands import BaseCommand
from tenants import access, audit, services
from tenants.models import Membership, Organization, Tenant, User

PASSWORD_FILE = "admin-password.txt"


class Command(BaseCommand):
    help = (
        "Set up a fresh install, or repair an existing one; safe to run any number of times. "
        "Creates the default organization (slug 'default'), the default tenant (slug from "
        "MLMETA_DEFAULT_TENANT) with its default project, default stack and built-in flavors, "
        "and a superuser named MLMETA_ADMIN_USERNAME who is a member of that tenant. The admin's "
        "password is MLMETA_ADMIN_PASSWORD when set (and is then reset to it on every run); "
        f"otherwise a generated one is written once to <MLMETA_VAR_DIR>/{PASSWORD_FILE} (mode 0600). "
        "Prints what it created and what it found."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-admin", action="store_true", help="Do not create or update the admin user.")

    def handle(self, *args, **options):
        with transaction.atomic():
            org = self.ensure_organization()
            tenant = self.ensure_tenant(org)
            if not options["no_admin"]:
                self.ensure_admin(tenant)
        if not options["no_admin"]:
            self.print_login()

    def print_login(self) -> None:
        if settings.MLMETA_ADMIN_PASSWORD:
            where = "the password in MLMETA_ADMIN_PASSWORD"
        else:
            where = f"the password in {settings.VAR_DIR / PASSWORD_FILE}"
        username = settings.MLMETA_ADMIN_USERNAME
        self.stdout.write(self.style.SUCCESS(f"Log in at {settings.SERVER_URL}/login as '{username}' with {where}."))

    def report(self, created: bool, what: str, detail: str = "") -> None:
        label = self.style.SUCCESS("created") if created else "found  "
        self.stdout.write(f"{label} {what}{f' ({detail})' if detail else ''}")

    def ensure_organization(self) -> Organization:
        org, created = Organization.objects.get_or_create(
            slug=services.DEFAULT_ORGANIZATION, defaults={"name": "Default"}
        )
        self.report(created, f"organization '{org.slug}'")
        if created:
            audit.command("create", org, "bootstrap")
        return org

    def ensure_tenant(self, org: Organization) -> Tenant:
        slug = settings.MLMETA_DEFAULT_TENANT
        tenant = Tenant.objects.filter(slug=slug).first()
        other_default = Tenant.objects.filter(is_default=True).exclude(slug=slug).first()
        if other_default:
            raise CommandError(
                f"Tenant '{other_default.slug}' is already the default tenant, but MLMETA_DEFAULT_TENANT "
                f"is '{slug}': set MLMETA_DEFAULT_TENANT={other_default.slug} or unmark that tenant."
            )
        if tenant is None:
            tenant = services.create_tenant(slug, name=slug.title(), organization=org, is_default=True)
            audit.command("create", tenant, "bootstrap", changes={"slug": slug, "is_default": True})
            self.report(True, f"tenant '{slug}'", "default; with project, stack and flavors")
            return tenant
        if not tenant.is_default:
            tenant.is_default = True
            tenant.save(update_fields=["is_default", "updated"])
        self.report(False, f"tenant '{slug}'", "default")
        for what, count in services.repair_tenant(tenant).items():
            self.report(bool(count), what, f"{count} missing, re-created" if count else "complete")
        return tenant

    def ensure_admin(self, tenant: Tenant) -> None:
        username = settings.MLMETA_ADMIN_USERNAME
        password = settings.MLMETA_ADMIN_PASSWORD
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, is_staff=True, is_superuser=True)
            user.full_clean(exclude=["password"])
            self.set_password(user, password)
            user.save()
            audit.command("create", user, "bootstrap", changes={"username": username, "is_superuser": True})
            self.report(True, f"superuser '{username}'", self.password_note(password))
        else:
            self.update_admin(user, password)
        created = not Membership.objects.filter(tenant=tenant, member=user).exists()
        access.assign_role("tenant-admin", user=user, tenant=tenant)
        self.report(created, f"membership of '{username}' in '{tenant.slug}'")

    def update_admin(self, user: User, password: str) -> None:
        changed = []
        if not (user.is_staff and user.is_superuser and user.is_active):
            user.is_staff = user.is_superuser = user.is_active = True
            changed.append("made an active superuser")
        if password and not user.check_password(password):
            self.set_password(user, password)
            changed.append("password reset to MLMETA_ADMIN_PASSWORD")
        if changed:
            user.save()
            audit.command("update", user, "bootstrap", detail="; ".join(changed))
        elif (settings.VAR_DIR / PASSWORD_FILE).exists() and not password:
            changed.append(f"password unchanged; generated one in {settings.VAR_DIR / PASSWORD_FILE}")
        self.report(False, f"superuser '{user.username}'", "; ".join(changed) or "password unchanged")

    def set_password(self, user: User, password: str) -> None:
        if not password:
            user.set_password(self.write_password_file(secrets.token_urlsafe(18)))
            return
        try:
            validate_password(password, user)
        except ValidationError as exc:
            self.stderr.write(f"warning: MLMETA_ADMIN_PASSWORD is weak: {' '.join(exc.messages)}")
        user.set_password(password)

    def write_password_file(self, password: str) -> str:
        path = settings.VAR_DIR / PASSWORD_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created 0600 from the start, so the password is never readable by others, not even briefly.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        os.chmod(path, 0o600)
        return password

    def password_note(self, password: str) -> str:
        if password:
            return "password from MLMETA_ADMIN_PASSWORD"
        return f"generated password written to {settings.VAR_DIR / PASSWORD_FILE}"
