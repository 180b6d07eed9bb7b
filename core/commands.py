"""Base class of MLMeta's management commands: every failure is one line on stderr.

Django prints a CommandError as one line and exits 1, but lets validation and database errors
escape as tracebacks, and argparse prints its usage before the actual error. Commands that
derive from this class turn all of these into a single line naming the problem.
"""

import re

from django.core.exceptions import ValidationError
from django.core.management import base
from django.db import DatabaseError, IntegrityError


def describe(exc: Exception) -> str:
    """A one-line description of a validation or database error."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            text = "; ".join(
                f"{field}: {' '.join(msgs)}" if field != "__all__" else " ".join(msgs)
                for field, msgs in exc.message_dict.items()
            )
        else:
            text = " ".join(exc.messages)
    else:
        text = str(exc)
    return re.sub(r"\s+", " ", text).strip()


class BaseCommand(base.BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def error(message):
            if not parser.called_from_command_line:
                raise base.CommandError(f"Error: {message}")
            parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")

        parser.error = error
        return parser

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except ValidationError as exc:
            raise base.CommandError(describe(exc)) from exc
        except IntegrityError as exc:
            raise base.CommandError(f"Conflicts with existing data: {describe(exc)}") from exc
        except DatabaseError as exc:
            raise base.CommandError(f"Database error: {describe(exc)} (has `manage.py migrate` run?)") from exc
