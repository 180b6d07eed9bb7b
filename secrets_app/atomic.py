"""All-or-nothing secret writes across MLMeta's database and the external stores.

An external store (OpenBao) is outside the database transaction: when the transaction rolls
back after a value went there, that write has to be undone by hand. `atomic_write()` is a
transaction that also collects such undo actions (`on_failure()`) and runs them, newest first,
when the block fails, including when the commit itself fails. Nested blocks hand their
actions to the enclosing one, which may still fail after they succeeded.
"""

import logging
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

logger = logging.getLogger(__name__)

_undo: ContextVar[list | None] = ContextVar("secret_write_undo", default=None)


@contextmanager
def atomic_write():
    outer = _undo.get()
    actions: list[tuple[str, Callable[[], None]]] = []
    token = _undo.set(actions)
    try:
        with transaction.atomic():
            yield
    except BaseException:
        _undo.reset(token)
        _run(actions)
        raise
    _undo.reset(token)
    if outer is not None:
        outer.extend(actions)


def on_failure(description: str, action: Callable[[], None]) -> None:
    """Run `action` if the enclosing atomic_write() fails; `description` names it in logs."""
    actions = _undo.get()
    if actions is None:
        raise RuntimeError("on_failure() needs an enclosing atomic_write().")
    actions.append((description, action))


def _run(actions) -> None:
    for description, action in reversed(actions):
        try:
            action()
        except Exception as exc:  # one failed undo must not stop the others
            logger.error("could not undo %s: %s", description, type(exc).__name__)
