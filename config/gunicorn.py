"""gunicorn settings for `make run` and production (`gunicorn -c config/gunicorn.py config.wsgi`)."""

import multiprocessing
import os

bind = os.environ.get("MLMETA_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
# Threaded workers keep HTTP connections alive (the zenml client reuses its session).
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() * 2)))
threads = int(os.environ.get("MLMETA_THREADS", 4))
keepalive = 75
timeout = 120
graceful_timeout = 30
max_requests = 10_000
max_requests_jitter = 1_000
accesslog = "-" if os.environ.get("MLMETA_ACCESS_LOG", "1") == "1" else None
# Its lines never hold a credential from a URL or a header (core/log_redaction.py).
logger_class = "core.log_redaction.RedactingLogger"
# gunicorn sets TCP_NODELAY on its listening socket, which accepted connections inherit on
# Linux, so kept-alive responses are not held back by Nagle's algorithm.
# The application (Django, every app, and the URLconf with its views) is imported once in the
# master before the workers fork, so they share those pages copy-on-write: the idle memory of
# `make run` (4 web workers and the Celery worker with beat) is about 380 MB PSS instead of
# about 510 MB (bench/RESULTS.md). New code needs a restart, not a HUP.
preload_app = True


def when_ready(server):
    """Import the URLconf too (Django loads it at the first request otherwise, in each worker)."""
    from django.urls import get_resolver

    server.log.info("URLconf loaded: %d patterns", len(get_resolver().url_patterns))
