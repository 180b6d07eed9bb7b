from celery import shared_task


@shared_task(name="core.ping")
def ping() -> str:
    """Answers "pong": proves a worker consumes the queue (used by `check_worker` and the tests)."""
    return "pong"
