from django.core.management.base import CommandError
from tqdm import tqdm

from core.commands import BaseCommand
from secrets_app import crypto, rotation


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret value (sql backend) and backend credential under the active key, "
        "the first of MLMETA_SECRETS_KEYS. Runs in batches, each its own transaction; an interrupted run "
        "carries on where it stopped when started again. Remove an old key only after this finished."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=positive, default=500, help="Rows per transaction (default: %(default)s)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Only report how many rows each key id encrypts.")

    def handle(self, *args, **options):
        counts = rotation.key_counts()
        if options["dry_run"]:
            self.report(counts)
        unknown = rotation.unconfigured_key_ids(counts)
        if unknown:
            raise CommandError(
                f"Stored rows are encrypted under key id {', '.join(map(repr, unknown))}, which MLMETA_SECRETS_KEYS "
                "does not configure: add that key back (after the active one) and run again."
            )
        if options["dry_run"]:
            return
        self.rotate(options["batch_size"], options["verbosity"])

    def report(self, counts):
        active = crypto.active_key_id()
        self.stdout.write(f"Active key id: {active}")
        for kind, counter in counts.items():
            parts = [f"{key_id}{' (active)' if key_id == active else ''}: {n}" for key_id, n in sorted(counter.items())]
            self.stdout.write(f"{kind}: {', '.join(parts) or 'none'}")
        self.stdout.write(f"Rows to re-encrypt: {rotation.pending_count()}")

    def rotate(self, batch_size: int, verbosity: int):
        done = 0
        with tqdm(total=rotation.pending_count(), unit="row", disable=None if verbosity < 2 else False) as bar:
            while count := self.batch(batch_size):
                done += count
                bar.update(count)
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {done} rows under key id '{crypto.active_key_id()}'."))

    def batch(self, batch_size: int) -> int:
        try:
            return rotation.rotate_batch(batch_size)
        except rotation.RotationError as exc:
            raise CommandError(str(exc)) from None
