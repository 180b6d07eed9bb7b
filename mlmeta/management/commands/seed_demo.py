import time

from django.conf import settings
from django.core.management.base import CommandError
from tqdm import tqdm

from core import statistics
from core.commands import BaseCommand
from mlmeta.demo import seed_demo
from tenants.models import Membership, Project, Tenant, User

MAX_BATCH = 10_000  # keeps a batch's run-name lookup under SQLite's parameter limit


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Fill a tenant's default project with realistic demo data: the pipelines training_pipeline, "
        "etl_pipeline and batch_inference with a snapshot each, and RUNS runs spread over the past "
        "weeks (mostly completed, some failed, a few running) with their steps, artifact versions, "
        "visualizations, logs, metadata, tags and model versions; plus a schedule and a model "
        "registry. Running it again appends more runs. Fast enough for benchmark-sized stores "
        "(100,000 runs)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--tenant", metavar="SLUG", help="Tenant to fill (default: the default tenant, MLMETA_DEFAULT_TENANT)."
        )
        parser.add_argument("--runs", type=positive, default=200, help="Number of runs to add (default: %(default)s).")
        parser.add_argument("--seed", type=int, help="Random seed, for reproducible data.")
        parser.add_argument(
            "--days", type=positive, default=28, help="Spread the runs over this many past days (default: %(default)s)."
        )
        parser.add_argument("--user", metavar="USERNAME", help="Creator of the data (default: a tenant member).")
        parser.add_argument(
            "--batch-size",
            type=positive,
            default=2000,
            help=f"Runs per transaction, at most {MAX_BATCH} (default: %(default)s).",
        )

    def handle(self, *args, **options):
        if options["batch_size"] > MAX_BATCH:
            raise CommandError(f"--batch-size must be at most {MAX_BATCH}.")
        tenant = self.tenant(options["tenant"])
        project = Project.objects.filter(tenant=tenant, name="default").first()
        if project is None:
            raise CommandError(f"Tenant '{tenant.slug}' has no default project; run `manage.py bootstrap`.")
        user = self.user(tenant, options["user"])
        started = time.monotonic()
        with tqdm(total=options["runs"], unit="run", disable=None if options["verbosity"] < 2 else False) as bar:
            result = seed_demo(
                project,
                options["runs"],
                user=user,
                seed=options["seed"],
                days=options["days"],
                batch_size=options["batch_size"],
                progress=bar.update,
            )
        statistics.refresh()
        elapsed = max(time.monotonic() - started, 1e-6)
        self.stdout.write(
            self.style.SUCCESS(f"Added {result.runs} runs ({result.rows} rows) to tenant '{tenant.slug}'")
            + f" in {elapsed:.1f}s: {result.runs / elapsed:.0f} runs/s, {result.rows / elapsed:.0f} rows/s."
        )

    def tenant(self, slug: str | None) -> Tenant:
        slug = slug or settings.MLMETA_DEFAULT_TENANT
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"Tenant '{slug}' does not exist.")
        return tenant

    def user(self, tenant: Tenant, username: str | None) -> User | None:
        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"User '{username}' does not exist.")
            return user
        membership = Membership.objects.filter(tenant=tenant).select_related("member").order_by("created").first()
        return membership.member if membership else None
