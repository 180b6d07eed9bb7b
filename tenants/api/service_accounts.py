"""Service accounts (users with `is_service_account`, members of one tenant) and their API keys."""

import uuid

from rest_framework.response import Response

from core.api.exceptions import EntityNotFound
from core.api.validation import invalid
from core.api.views import ZenViewSet
from tenants import access
from tenants.api.envelopes import APIKeyEnvelope, ServiceAccountEnvelope
from tenants.api.filtersets import APIKeyFilterSet, ServiceAccountFilterSet
from tenants.models import APIKey, User

MAX_RETAIN_MINUTES = 2**31 - 1


def service_accounts(request, action: str = "read"):
    """The service accounts of the request's tenant that the user may see (or act on)."""
    accounts = User.objects.restrict(request.user, action, "service_account").filter(
        memberships__tenant=request.tenant, is_service_account=True
    )
    return accounts.distinct()


def _by_name_or_id(queryset, raw, name_field, label):
    try:
        found = queryset.filter(pk=uuid.UUID(raw)).first()
    except ValueError:
        found = None
    found = found or queryset.filter(**{name_field: raw}).first()
    if found is None:
        raise EntityNotFound(f"Unable to get {label} with name or ID '{raw}': No {label} found")
    return found


def _object(view, queryset, name_field):
    """The row the path names: 404 when the caller cannot see it, 403 (audited) when they see it
    but may not do what the request asks."""
    raw = str(view.kwargs[view.lookup_url_kwarg])
    if queryset is not None or view.action_name() == "read":
        return _by_name_or_id(queryset if queryset is not None else view.get_queryset(), raw, name_field, view.label)
    found = _by_name_or_id(view.readable(), raw, name_field, view.label)
    if not view.get_queryset().filter(pk=found.pk).exists():
        view.deny(view.action_name(), resource_id=found.pk)
    return found


class ServiceAccountViewSet(ZenViewSet):
    model = User
    envelope_class = ServiceAccountEnvelope
    filterset_class = ServiceAccountFilterSet
    create_schema = "ServiceAccountRequest"
    update_schema = "ServiceAccountUpdate"
    label = "service account"
    resource_type = "service_account"
    unique_message = "Account with name `{name}` already exists."

    def get_queryset(self):
        return service_accounts(self.request, self.action_name())

    def get_object(self, queryset=None):
        return _object(self, queryset, "username")

    def perform_create(self, data):
        account = User(
            username=data["name"],
            is_service_account=True,
            is_active=data["active"],
            organization=self.request.tenant.organization,
        )
        self.assign(account, data)
        account.set_unusable_password()
        account.save()
        access.add_member(self.request.tenant, account, by=self.request.user)
        return account

    def perform_update(self, account, data):
        if data.get("name") is not None:
            account.username = data["name"]
        if data.get("active") is not None:
            account.is_active = data["active"]
        self.assign(account, data)
        account.save()
        return account

    @staticmethod
    def assign(account, data):
        for field in ("full_name", "description", "avatar_url"):
            if data.get(field) is not None:
                setattr(account, field, data[field])

    def perform_destroy(self, account):
        """The account goes with its keys; one that belongs to other tenants too only leaves this one
        (its keys stay, for the other tenants)."""
        tenant = self.request.tenant
        if account.memberships.exclude(tenant=tenant).exists():
            access.remove_member(tenant, account)
        else:
            account.delete()


class APIKeyViewSet(ZenViewSet):
    model = APIKey
    envelope_class = APIKeyEnvelope
    filterset_class = APIKeyFilterSet
    create_schema = "APIKeyRequest"
    update_schema = "APIKeyUpdate"
    label = "API key"
    unique_message = "API key with name `{name}` already exists."

    def service_account(self) -> User:
        if not hasattr(self, "_account"):
            raw = str(self.kwargs["service_account_id"])
            self._account = _by_name_or_id(service_accounts(self.request), raw, "username", "service account")
        return self._account

    def get_queryset(self):
        return self.keys(self.action_name())

    def action_name(self) -> str:
        return "update" if self.action == "rotate" else super().action_name()

    def keys(self, action):
        return APIKey.objects.restrict(self.request.user, action).filter(service_account=self.service_account())

    def get_object(self, queryset=None):
        return _object(self, queryset, "name")

    def create(self, request, *args, **kwargs):
        data = self.validated(request.data, self.create_schema)
        account = self.service_account()
        if not User.objects.allows(request.user, "update", account, "service_account"):
            self.deny("create", resource_id=account.pk)
        access.check_acts_as(account, request.user, request)  # the key would act as the account
        key, plaintext = self.save_or_conflict(
            lambda: APIKey.issue(
                organization=account.organization or request.tenant.organization,
                created_by=request.user,
                service_account=account,
                name=data["name"],
                description=data.get("description") or "",
            ),
            data,
        )
        return Response(self.with_key(key, plaintext))

    def rotate(self, request, *args, **kwargs):
        key = self.get_object()
        access.check_acts_as(key.service_account, request.user, request)
        data = self.validated(request.data, "APIKeyRotateRequest")
        minutes = data.get("retain_period_minutes") or 0
        if not 0 <= minutes <= MAX_RETAIN_MINUTES:  # the column's range (and a date Python can reach)
            raise invalid("retain_period_minutes", f"Input should be between 0 and {MAX_RETAIN_MINUTES}", minutes)
        plaintext = key.rotate(minutes)
        return Response(self.with_key(key, plaintext))

    def with_key(self, key, plaintext) -> dict:
        """The only responses that carry the plaintext key: those of create and rotate."""
        rendered = self.render(key)
        rendered["body"]["key"] = plaintext
        return rendered

    def perform_update(self, key, data):
        access.check_acts_as(key.service_account, self.request.user, self.request)
        for field in ("name", "description", "active"):
            if data.get(field) is not None:
                setattr(key, field, data[field])
        key.save()
        return key
