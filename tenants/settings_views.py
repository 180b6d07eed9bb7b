"""The tenant's settings page (its name, description, logo and display flags, as ZenML's
server settings) with what an administrator needs to know about it; tenant:update only."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from tenants import audit
from tenants.manage_base import ManagePage
from tenants.manage_forms import TenantSettingsForm
from tenants.models import Tenant

FIELDS = TenantSettingsForm.Meta.fields


class TenantSettingsView(ManagePage, TemplateView):
    template_name = "tenants/settings.html"

    def allowed(self) -> None:
        self.require(self.may("update", "tenant"), "Only the tenant's administrators change its settings.")

    def get(self, request):
        self.allowed()
        return self.page(form=TenantSettingsForm(instance=self.fresh()))

    def post(self, request):
        self.allowed()
        tenant = self.fresh()
        before = {name: getattr(tenant, name) for name in FIELDS}
        form = TenantSettingsForm(request.POST, instance=tenant)
        if not form.is_valid():
            return self.page(400, form=form)
        form.save()
        changes = audit.changed_fields(before, {name: getattr(tenant, name) for name in FIELDS})
        audit.record("update", request=request, actor=request.user, obj=tenant, changes=changes)
        messages.success(request, "Settings saved.")
        return redirect("tenant-settings")

    def fresh(self) -> Tenant:
        """A copy of the request's tenant: a failed form must not rename the page around it."""
        return Tenant.objects.select_related("organization").get(pk=self.request.tenant.pk)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        tenant = self.request.tenant
        url = self.request.build_absolute_uri(reverse("home")).rstrip("/")
        context.update(server_id=tenant.server_id, login_command=f"zenml login {url}")
        context["migrate_command"] = f"manage.py migrate_secrets --tenant {tenant.slug} --to <backend>"
        return context
