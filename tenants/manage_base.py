"""What the management pages (members, teams, roles, service accounts, settings) share.

Every change goes through tenants.access, which applies the privilege-escalation rules and
audits. A page first asks rbac whether the user may do this kind of change here at all
(`require`, a 403 before any lookup), then looks the object up through `restrict()` (a 404 for
what is not theirs to see), then lets tenants.access decide: its `Refused` becomes a form error
with status 403, its `ValidationError` a form error with status 400.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.template.response import TemplateResponse

from tenants import rbac
from tenants.access import Refused
from tenants.views import TenantViewMixin


class ManagePage(TenantViewMixin):
    """A management page of the request's tenant and its organization."""

    template_name = ""

    @property
    def organization(self):
        return self.request.tenant.organization

    def may(self, action: str, resource_type: str) -> bool:
        """Whether the user holds `resource_type:action` in this tenant or its organization."""
        return rbac.can(
            self.request.user, action, resource_type, tenant=self.request.tenant, organization=self.organization
        )

    def may_org(self, action: str, resource_type: str) -> bool:
        """Organization-level permission (teams, roles, creating service accounts)."""
        return rbac.can(self.request.user, action, resource_type, organization=self.organization)

    def require(self, allowed: bool, reason: str) -> None:
        if not allowed:
            raise PermissionDenied(reason)

    @staticmethod
    def get_or_404(queryset, pk):
        obj = queryset.filter(pk=pk).first()
        if obj is None:
            raise Http404("There is no such object here, or you may not see it.")
        return obj

    def here(self) -> Q:
        """Role assignments that apply in this tenant: its own (and its projects') and the organization's."""
        tenant = self.request.tenant
        return Q(tenant=tenant) | Q(tenant__isnull=True, organization_id=tenant.organization_id)

    def attempt(self, form, call, *args, **kwargs):
        """`call(*args, **kwargs)` (a tenants.access service); a refusal or validation error
        becomes an error of `form`. Returns (result, None) or (None, HTTP status)."""
        try:
            return call(*args, **kwargs), None
        except Refused as exc:
            form.add_error(None, exc.reason)
            return None, 403
        except ValidationError as exc:
            add_validation_error(form, exc)
            return None, 400

    def page(self, status: int = 200, no_store: bool = False, **context):
        response = TemplateResponse(self.request, self.template_name, self.get_context_data(**context), status=status)
        if no_store:
            response["Cache-Control"] = "no-store"
        return response


def add_validation_error(form, exc: ValidationError) -> None:
    """Put a model or service ValidationError on `form`: on the field it names when the form has
    one, else as a form-wide error."""
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, exc.messages)
