from celery import shared_task


@shared_task(name="core.ping")
def ping() -> str:
    """Answers "pong": proves a worker consumes the queue (used by `check_worker` and the tests)."""
    return "pong"


@shared_task(name="core.refresh_statistics", time_limit=900, soft_time_limit=840)
def refresh_statistics() -> list[str]:
    """The planner's statistics of the tables that changed (core.statistics); every ten minutes
    from beat (CELERY_BEAT_SCHEDULE)."""
    from core import statistics

    return statistics.refresh(force=False)
