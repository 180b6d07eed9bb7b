from datetime import timedelta

from django.core.management.base import CommandError
from django.utils import timezone

from core.commands import BaseCommand
from tenants import access
from tenants.models import User


class Command(BaseCommand):
    help = (
        "Create an API key for a service account and print it, once: only a hash of it is stored. "
        "Log in with `zenml login URL --api-key` or ZENML_STORE_API_KEY."
    )

    def add_arguments(self, parser):
        parser.add_argument("account", help="The service account's name.")
        parser.add_argument("name", help="The key's name, unique for the account.")
        parser.add_argument("--description", default="")
        parser.add_argument("--expires-days", type=int, metavar="N", help="The key stops working after N days.")

    def handle(self, *args, account, name, description, expires_days, **options):
        found = User.objects.filter(username=account, is_service_account=True).first()
        if found is None:
            raise CommandError(f"Unknown service account '{account}'.")
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1.")
        expires = timezone.now() + timedelta(days=expires_days) if expires_days else None
        key, plaintext = access.issue_api_key(found, name, expires=expires, description=description)
        until = f", valid until {key.expires:%Y-%m-%d %H:%M} UTC" if key.expires else ""
        self.stderr.write(f"Created API key '{name}' of '{account}' ({key.pk}{until}); it is shown only now:")
        self.stdout.write(plaintext)
