import uuid

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views import View
from django.views.generic import ListView, TemplateView

from core.paginators import CappedCountPaginator
from tenants import rbac
from tenants.choices import AuditAction, OAuthDeviceStatus
from tenants.control_api.filtersets import AuditEventFilterSet
from tenants.forms import NO_SUCH_DEVICE, DeviceVerificationForm, device_refusal
from tenants.models import AuditEvent, DeviceError, OAuthDevice


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
            elsewhere = self.home_elsewhere(request)
            if elsewhere:
                return redirect(elsewhere)
            raise PermissionDenied("You are not a member of this tenant.")
        return super().dispatch(request, *args, **kwargs)

    @staticmethod
    def home_elsewhere(request) -> str | None:
        """The root page of a user who belongs to other tenants only: their first tenant's."""
        if request.method != "GET" or request.path != "/":
            return None
        usable = rbac.tenant_ids(request.user)
        tenant = type(request.tenant).objects.filter(pk__in=usable, active=True).order_by("slug").first()
        return tenant.get_absolute_url() if tenant else None

    def restrict(self, model, action=None):
        return model.objects.restrict(self.request.user, action or self.action).filter(tenant=self.request.tenant)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["user_tenants"] = rbac.restrict(
            type(self.request.tenant).objects.filter(active=True), self.request.user
        )
        return context


class DeviceVerifyView(TenantViewMixin, TemplateView):
    """Where `zenml login URL` sends its user (`verification_uri_complete`) to approve the device,
    with the user's devices in use below."""

    template_name = "tenants/device_verify.html"
    action = "update"
    listed = 10

    def get(self, request, *args, **kwargs):
        raw_id, user_code = request.GET.get("device_id"), request.GET.get("user_code", "")
        device = self.lookup(raw_id)
        problem, status = None, 200
        if raw_id is not None and device is None:
            problem, status = NO_SUCH_DEVICE, 404
        elif device is not None:
            try:
                device.check_verifiable()
            except DeviceError as exc:
                problem = device_refusal(exc, device, request.user)
        form = None if problem or device is None else self.form(initial={"device_id": raw_id, "user_code": user_code})
        context = self.get_context_data(form=form, device=self.shown(device, user_code), problem=problem)
        return self.render_to_response(context, status=status)

    def post(self, request, *args, **kwargs):
        form = self.form(data=request.POST)
        if form.is_valid() and form.verify():
            context = self.get_context_data(device=form.device)
            return TemplateResponse(request, "tenants/device_verified.html", context)
        device = self.shown(form.device, request.POST.get("user_code", ""))
        return self.render_to_response(self.get_context_data(form=form, device=device), status=400)

    def form(self, **kwargs) -> DeviceVerificationForm:
        return DeviceVerificationForm(devices=self.restrict(OAuthDevice), user=self.request.user, **kwargs)

    def lookup(self, raw_id) -> OAuthDevice | None:
        try:
            pk = uuid.UUID(str(raw_id))
        except ValueError:
            return None
        return self.restrict(OAuthDevice).filter(pk=pk).first()

    def shown(self, device, user_code) -> OAuthDevice | None:
        """The device, if the code in hand entitles the user to see its details."""
        return device if device is not None and device.shown_to(self.request.user, user_code) else None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        in_use = self.restrict(OAuthDevice, "delete").filter(
            Q(expires__isnull=True) | Q(expires__gt=timezone.now()),
            user=self.request.user,
            status__in=[OAuthDeviceStatus.VERIFIED, OAuthDeviceStatus.ACTIVE],
        )
        context["devices"] = in_use.order_by(F("last_login").desc(nulls_last=True), "-created")[: self.listed]
        return context


class DeviceRevokeView(TenantViewMixin, View):
    """Log a device of the user out: deleted as by `DELETE /api/v1/devices/{id}`, its tokens stop working."""

    action = "delete"
    http_method_names = ["post"]

    def post(self, request, pk):
        device = self.restrict(OAuthDevice).filter(user=request.user, pk=pk).first()
        if device is None:
            messages.error(request, "You have no such device in this tenant.")
        else:
            device.delete()
            messages.success(request, f"Revoked {device}: its tokens no longer work.")
        return redirect("device-verify")


class AuditEventListView(TenantViewMixin, ListView):
    """The audit trail for admins: this tenant's events (the whole organization's for those who
    read it at organization level), filtered by actor, action, resource type and time, newest first."""

    template_name = "tenants/audit_list.html"
    paginate_by = 50
    paginator_class = CappedCountPaginator
    context_object_name = "events"

    def get(self, request, *args, **kwargs):
        if not rbac.can(request.user, "read", "audit_event", tenant=request.tenant):
            raise PermissionDenied("Only administrators read the audit trail.")
        return super().get(request, *args, **kwargs)

    def org_wide(self) -> bool:
        return rbac.can(self.request.user, "read", "audit_event", organization=self.request.tenant.organization)

    def get_queryset(self):
        events = AuditEvent.objects.restrict(self.request.user, "read")
        if self.org_wide():
            events = events.filter(organization_id=self.request.tenant.organization_id)
        else:
            events = events.filter(tenant=self.request.tenant)
        self.filterset = AuditEventFilterSet(self.request.GET, queryset=events.order_by("-created"))
        return self.filterset.qs if self.filterset.is_valid() else events.none()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(filterset=self.filterset, query=query.urlencode(), actions=AuditAction.choices)
        return context
