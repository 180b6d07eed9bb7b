"""Login rate limiting and lockout, through django-axes.

Axes counts failed logins in the database (so every gunicorn worker and every machine sees the
same counts), by username and, separately, by client address (`AXES_LOCKOUT_PARAMETERS`). Once
either reaches `AXES_FAILURE_LIMIT` within the cool-off time, `LoginLockoutBackend` refuses every
further attempt, the right password included, until the cool-off passes or an operator unlocks
(`manage.py axes_reset_username NAME`, `axes_reset_ip ADDRESS`, or the admin's access attempts).

The dashboard login form and `POST /api/v1/login` (password grant) both authenticate through
`django.contrib.auth.authenticate(request, ...)`, so both are counted and refused alike; they
word the refusal themselves (a form error; a 429 naming the problem), see `locked_out()`.
"""

from axes.backends import AxesStandaloneBackend
from django.conf import settings


class LoginLockoutBackend(AxesStandaloneBackend):
    """Axes' gate before the password check. Logins without a request (tests' `client.login`,
    code that authenticates on a user's behalf) are not rate limited rather than refused."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def locked_out(request) -> bool:
    """Whether the login attempt of `request` was refused because of a lockout."""
    request = getattr(request, "_request", request)
    return bool(getattr(request, "axes_locked_out", False))


def message() -> str:
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    return (
        f"Too many failed logins for this account or from this address: try again in {minutes} "
        "minute(s), or ask an administrator to unlock it."
    )


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the views already answered the refusal in their own words (the login
    page with a form error, the API with a 429), so their response stands."""
    if original_response is not None:
        return original_response
    from django.http import JsonResponse

    return JsonResponse({"detail": ["AuthorizationException", message()]}, status=429)
