from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404

from tenants import rbac


class TenantViewMixin(LoginRequiredMixin):
    """Base of every dashboard page: a logged-in member of the tenant in the URL.

    `restrict(model)` is how pages query: the tenant of the URL, narrowed by rbac.restrict().
    """

    action = "read"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if request.tenant is None:
            raise Http404("No tenant is set up yet: run `manage.py bootstrap`.")
        if not rbac.may_use_tenant(request.user, request.tenant):
            raise PermissionDenied("You are not a member of this tenant.")
        return super().dispatch(request, *args, **kwargs)

    def restrict(self, model, action=None):
        return model.objects.restrict(self.request.user, action or self.action).filter(tenant=self.request.tenant)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["user_tenants"] = rbac.restrict(
            type(self.request.tenant).objects.filter(active=True), self.request.user
        )
        return context
