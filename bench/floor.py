"""The floor of `make bench`: gunicorn (config/gunicorn.py, as MLMeta runs) and a bare Django
answering every GET with the same pre-built bytes, read once at start from the file named by
MLMETA_BENCH_FLOOR_BODY (MLMeta's own runs page, captured by the bench). No database, no
middleware: what is left of a request once the work of building the page is gone.

    gunicorn -c config/gunicorn.py bench.floor:application
"""

import os
from pathlib import Path

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-floor-not-a-secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import re_path  # noqa: E402

BODY = Path(os.environ["MLMETA_BENCH_FLOOR_BODY"]).read_bytes()


def page(request, path=""):
    return HttpResponse(BODY, content_type="application/json")


urlpatterns = [re_path(r"^(?P<path>.*)$", page)]
application = get_wsgi_application()
