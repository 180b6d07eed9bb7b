"""Service accounts of the tenant's organization and their API keys.

A new or rotated key (`ZENKEY_...`) is on the answer to that POST only, sent with
`Cache-Control: no-store`; lists show a key's name, id prefix, last use and expiry, never the key.
Minting, rotating and changing keys need every permission the account holds (tenants.access
refuses otherwise; the refusal is shown as a form error)."""

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView

from tenants import access
from tenants.manage_base import ManagePage
from tenants.manage_forms import APIKeyForm, RotateForm, ServiceAccountForm
from tenants.models import APIKey, User


class ServiceAccountPage(ManagePage):
    def accounts(self, action: str = "read"):
        accounts = User.objects.restrict(self.request.user, action, "service_account")
        return accounts.filter(is_service_account=True, organization=self.organization)

    def account(self, pk) -> User:
        return self.get_or_404(self.accounts(), pk)

    def may_manage_keys(self) -> bool:
        return self.may("update", "service_account")


class ServiceAccountListView(ServiceAccountPage, TemplateView):
    template_name = "tenants/service_account_list.html"

    def get_context_data(self, form=None, **kwargs):
        context = super().get_context_data(**kwargs)
        keys = APIKey.objects.filter(service_account=OuterRef("pk")).values("service_account")
        key_count = Subquery(keys.annotate(n=Count("pk")).values("n")[:1])
        context["accounts"] = self.accounts().annotate(key_count=key_count).order_by("username")[:500]
        if self.may_org("create", "service_account"):
            context["form"] = form or ServiceAccountForm(organization=self.organization)
        return context

    def post(self, request):
        self.require(self.may_org("create", "service_account"), "You may not create service accounts here.")
        form = ServiceAccountForm(request.POST, organization=self.organization)
        if not form.is_valid():
            return self.page(400, form=form)
        account, status = self.attempt(form, self.create, form.cleaned_data)
        if account is None:
            return self.page(status, form=form)
        messages.success(request, f"Service account {account.username} created.")
        return redirect("service-account-detail", pk=account.pk)

    def create(self, data) -> User:
        """The account and, if chosen, its role in this tenant: both or neither."""
        by, request = self.request.user, self.request
        with transaction.atomic():
            account = access.create_service_account(
                self.organization, data["name"], description=data["description"], by=by, request=request
            )
            if data["role"] is not None:
                access.grant(data["role"], user=account, tenant=request.tenant, by=by, request=request)
        return account


class ServiceAccountDetailView(ServiceAccountPage, TemplateView):
    """The account and its keys; POST creates a key, shown on this answer once."""

    template_name = "tenants/service_account_detail.html"

    def get(self, request, pk):
        return self.page(account=self.account(pk))

    def post(self, request, pk):
        self.require(self.may_manage_keys(), "You may not manage API keys here.")
        account = self.account(pk)
        form = APIKeyForm(request.POST)
        if not form.is_valid():
            return self.page(400, account=account, key_form=form)
        data = form.cleaned_data
        kwargs = {"expires": data["expires"], "description": data["description"], "by": request.user}
        result, status = self.attempt(form, access.issue_api_key, account, data["name"], request=request, **kwargs)
        if result is None:
            return self.page(status, account=account, key_form=form)
        key, plaintext = result
        return self.page(no_store=True, account=account, new_key=key, plaintext=plaintext)

    def get_context_data(self, account, key_form=None, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            account=account,
            keys=account.api_keys.order_by("name"),
            may_update=self.may("update", "service_account"),
            may_delete_keys=self.may("delete", "service_account"),
            rotate_form=RotateForm(),
        )
        if context["may_update"]:
            context["key_form"] = key_form or APIKeyForm()
        return context


class ServiceAccountActivateView(ServiceAccountPage, TemplateView):
    """POST active=0|1: deactivating stops every key and token of the account at once."""

    http_method_names = ["post"]

    def post(self, request, pk):
        self.require(self.may("update", "service_account"), "You may not change service accounts here.")
        account = self.account(pk)
        active = request.POST.get("active") == "1"
        access.update_service_account(account, active=active, by=request.user, request=request)
        messages.success(request, f"{account.username} {'activated' if active else 'deactivated'}.")
        return redirect("service-account-detail", pk=pk)


class APIKeyView(ServiceAccountDetailView):
    """The key actions: rotate (the new key shown once), activate/deactivate, delete."""

    http_method_names = ["post"]

    operations = ("rotate", "activate", "deactivate", "delete")

    def post(self, request, pk, key_pk, operation):
        if operation not in self.operations:
            raise Http404("No such key action.")
        needed = "delete" if operation == "delete" else "update"
        self.require(self.may(needed, "service_account"), "You may not manage API keys here.")
        account = self.account(pk)
        key = self.get_or_404(account.api_keys.select_related("service_account"), key_pk)
        by = {"by": request.user, "request": request}
        if operation == "rotate":
            form = RotateForm(request.POST)
            if not form.is_valid():
                return self.page(400, account=account, rotate_error=form.errors.get("retain_period_minutes"))
            minutes = form.cleaned_data["retain_period_minutes"]
            plaintext = access.rotate_api_key(key, retain_period_minutes=minutes, **by)
            return self.page(no_store=True, account=account, new_key=key, plaintext=plaintext, rotated=True)
        if operation == "delete":
            access.delete_api_key(key, **by)
            messages.success(request, f"Key {key.name} deleted.")
        else:
            access.update_api_key(key, active=operation == "activate", **by)
            messages.success(request, f"Key {key.name} {operation}d.")
        return redirect("service-account-detail", pk=pk)
