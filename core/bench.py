"""Bench-only instrumentation, off by default: with MLMETA_BENCH_QUERY_COUNT=1 every response
carries `X-MLMeta-Queries: N`, the number of SQL statements run while answering it. `make bench`
turns it on to report SQL queries per request over HTTP; production never sets it."""

from contextlib import ExitStack

from django.db import connections

HEADER = "X-MLMeta-Queries"


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        count = 0

        def counting(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with ExitStack() as stack:
            for connection in connections.all():
                stack.enter_context(connection.execute_wrapper(counting))
            response = self.get_response(request)
        response[HEADER] = str(count)
        return response
