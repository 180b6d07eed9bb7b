"""Celery tasks of the tenants app."""

from celery import shared_task


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def clear_expired_oauth_tokens() -> None:
    """Delete expired OAuth2 tokens and grants: DOT stores access tokens in clear text, so they
    must not outlive their short lifetime (scheduled hourly by CELERY_BEAT_SCHEDULE)."""
    from oauth2_provider.models import clear_expired

    clear_expired()
