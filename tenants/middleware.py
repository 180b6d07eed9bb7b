import re

from django.http import Http404, JsonResponse
from django.urls import get_script_prefix, set_script_prefix
from django.views.defaults import page_not_found

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
            request.tenant = Tenant.objects.filter(is_default=True, active=True).first()
            return self.get_response(request)
        request.tenant = Tenant.objects.filter(slug=match["slug"], active=True).first()
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
