import re
from functools import cache

from django.db import connection
from django.http import Http404, JsonResponse
from django.urls import get_script_prefix, set_script_prefix
from django.views.defaults import page_not_found

from core.rawsql import Columns, cache_key
from tenants.models import Tenant

TENANT_PREFIX = re.compile(r"^/t/(?P<slug>[^/]+)")


class TenantMiddleware:
    """Resolve the tenant from the URL: `/t/<slug>/...`, or the default tenant at the root.

    The prefix is moved from the path into the script prefix, so the rest of the URLconf is
    shared by all tenants and every `reverse()` during the request yields this tenant's URLs.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        match = TENANT_PREFIX.match(request.path_info)
        if not match:
            request.tenant = active_tenant()
            return self.get_response(request)
        request.tenant = active_tenant(match["slug"])
        rest = request.path_info[match.end() :]
        if request.tenant is None:
            return self.not_found(request, rest)
        previous = get_script_prefix()
        request.path_info = rest or "/"
        set_script_prefix(previous.rstrip("/") + match.group(0) + "/")
        try:
            return self.get_response(request)
        finally:
            set_script_prefix(previous)

    @staticmethod
    def not_found(request, rest):
        if rest.startswith("/api/"):
            return JsonResponse({"detail": "Not Found"}, status=404)
        return page_not_found(request, Http404("No such tenant."))


@cache
def _columns() -> Columns:
    return Columns(*(("t", f) for f in Tenant._meta.concrete_fields))


_SQL: dict = {}


def active_tenant(slug: str | None = None) -> Tenant | None:
    """The active tenant `slug`, or the default tenant: looked up on every request, so in SQL built
    once per process (the ORM would spend longer compiling the query than the database running it)."""
    sql = _SQL.get(cache_key(connection))
    if sql is None:
        table = connection.ops.quote_name(Tenant._meta.db_table)
        select = f"SELECT {_columns().sql(connection)} FROM {table} t WHERE t.active = %s AND "  # noqa: S608
        sql = _SQL[cache_key(connection)] = {
            "slug": select + "t.slug = %s",
            "default": select + "t.is_default = %s ORDER BY t.slug LIMIT 1",
        }
    with connection.cursor() as cursor:
        cursor.execute(sql["default"] if slug is None else sql["slug"], [True, True if slug is None else slug])
        row = cursor.fetchone()
    return None if row is None else Tenant.from_db(connection.alias, None, _columns().convert(row, connection))


class AuditMiddleware:
    """Binds each request to the audit trail (code without the request at hand, such as
    tenants.access, still records its actor, IP and user agent) and, as a safety net, records a
    successful write under /api/ that wrote no audit event of its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from tenants import audit

        with audit.bound(request):
            try:
                response = self.get_response(request)
            finally:
                audit.flush_pending(request)
            audit.record_unaudited_write(request, response)
        return response
