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
# gunicorn sets TCP_NODELAY on its listening socket, which accepted connections inherit on
# Linux, so kept-alive responses are not held back by Nagle's algorithm.
