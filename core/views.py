from django.db import connection
from django.http import HttpResponse, JsonResponse


def health(request):
    """Liveness: the process answers."""
    return HttpResponse("ok", content_type="text/plain")


def ready(request):
    """Readiness: the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any database failure means "not ready"
        return JsonResponse({"status": "unavailable", "detail": type(exc).__name__}, status=503)
    return JsonResponse({"status": "ok"})
