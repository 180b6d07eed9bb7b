"""Users of a tenant (people; service accounts have their own routes). The tenant's admins add,
change and remove its users; everyone changes their own profile, and their own password only
with the old one. A user account is shared by every tenant it belongs to, so a tenant admin
changes account-wide fields (name, e-mail, active, ...) only of users who belong to no other
tenant; operators change anyone's."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.decorators import action, api_view
from rest_framework.response import Response

from core.api.exceptions import EntityExistsError, EntityNotFound, IllegalOperationError
from core.api.validation import invalid, is_uuid, parse_uuid, validate_body
from core.api.views import ZenViewSet, hydrate_param
from tenants import access, rbac
from tenants.api.envelopes import UserEnvelope
from tenants.api.filtersets import UserFilterSet
from tenants.models import User

# UserUpdate fields stored on the account, by the model field that keeps them.
ACCOUNT_FIELDS = {
    "name": "username",
    "full_name": "full_name",
    "email": "email",
    "email_opted_in": "email_opted_in",
    "avatar_url": "avatar_url",
    "user_metadata": "user_metadata",
    "external_user_id": "external_user_id",
    "active": "is_active",
}


def tenant_users(request, action: str = "read"):
    """The people who are members of the request's tenant, as far as the user may see them."""
    members = User.objects.restrict(request.user, action).filter(
        memberships__tenant=request.tenant, is_service_account=False
    )
    return members.distinct()


def require_admin(request, doing: str) -> None:
    if not rbac.is_tenant_admin(request.user, request.tenant):
        raise IllegalOperationError(f"Only the tenant's admins may {doing}.")


def may_change_account(request, user) -> bool:
    """Whether the caller may change account-wide fields of `user`: their own, or as an operator,
    or as a tenant admin when `user` is no operator and belongs to no other tenant."""
    if user.pk == request.user.pk or request.user.is_superuser:
        return True
    if user.is_superuser:
        return False
    return not user.memberships.exclude(tenant=request.tenant).exists()


def checked_password(user, password: str, field: str = "password") -> str:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise invalid(field, " ".join(exc.messages)) from None
    return password


def change_own_password(user, data) -> None:
    """ZenML's rule: a new password needs the current one in `old_password`."""
    if not data.get("old_password"):
        raise IllegalOperationError("The current password must be supplied when changing the password.")
    if not user.check_password(data["old_password"]):
        raise IllegalOperationError("The current password is incorrect.")
    user.set_password(checked_password(user, data["password"]))
    user.password_changed_at = timezone.now()


def apply_account_fields(user, data) -> None:
    for key, field in ACCOUNT_FIELDS.items():
        if data.get(key) is not None:
            value = data[key]
            setattr(user, field, parse_uuid(value, key) if key == "external_user_id" else value)
    ZenViewSet.clean(user, exclude=("password",))


class UserViewSet(ZenViewSet):
    model = User
    envelope_class = UserEnvelope
    filterset_class = UserFilterSet
    create_schema = "UserRequest"
    update_schema = "UserUpdate"
    label = "user"
    unique_message = "User with name `{name}` already exists."

    def get_queryset(self):
        return tenant_users(self.request, self.action_name())

    def action_name(self) -> str:
        return {"deactivate": "update", "email_opt_in": "update"}.get(self.action) or super().action_name()

    def get_object(self, queryset=None):
        """Users may be addressed by id or by name."""
        raw = str(self.kwargs[self.lookup_url_kwarg])
        queryset = queryset if queryset is not None else self.get_queryset()
        lookup = {"pk": parse_uuid(raw, "user_id")} if is_uuid(raw) else {"username": raw}
        user = queryset.filter(**lookup).first()
        if user is None:
            if self.action_name() != "read" and self.readable().filter(**lookup).exists():
                self.deny(self.action_name(), resource_id=raw)
            raise EntityNotFound(f"Unable to get user with name or ID '{raw}': No user found")
        return user

    # --- create ------------------------------------------------------------------------------
    def create(self, request, *args, **kwargs):
        require_admin(request, "add users")
        if isinstance(request.data, dict) and request.data.get("is_admin") is True:
            access.check_tenant_admin_change(request.tenant, None, True, by=request.user, request=request)
        return super().create(request, *args, **kwargs)

    def update(self, request, *args, **kwargs):
        """Privilege-escalation checks of an `is_admin` change run before the update's
        transaction, so a refusal stays in the audit log."""
        is_admin = request.data.get("is_admin") if isinstance(request.data, dict) else None
        if isinstance(is_admin, bool):
            user = self.get_object()
            changing = is_admin != UserEnvelope(request).is_admin(user)
            if changing and user.pk != request.user.pk and not user.is_superuser:
                access.check_tenant_admin_change(request.tenant, user, is_admin, by=request.user, request=request)
        return super().update(request, *args, **kwargs)

    def perform_create(self, data):
        if User.objects.filter(username=data["name"]).exists():
            raise EntityExistsError(self.unique_message.format(name=data["name"]))
        user = User(username=data["name"])
        apply_account_fields(user, {**data, "active": data.get("active", bool(data.get("password")))})
        if data.get("password"):
            user.set_password(checked_password(user, data["password"]))
        else:
            user.set_unusable_password()
        user.save()
        access.change_tenant_admin(
            self.request.tenant, user, bool(data["is_admin"]), by=self.request.user, request=self.request
        )
        return user

    # --- update ------------------------------------------------------------------------------
    def perform_update(self, user, data):
        own = user.pk == self.request.user.pk
        if not own:
            require_admin(self.request, "change other users")
            if data.get("password") is not None:
                raise IllegalOperationError("Users can only change their own password.")
        if data.get("is_admin") is not None:
            self.change_admin_status(user, data["is_admin"], own)
        if own and data.get("active") is False:
            raise IllegalOperationError("You cannot deactivate your own account.")
        return update_account(self.request, user, data)

    def change_admin_status(self, user, is_admin: bool, own: bool) -> None:
        if is_admin == UserEnvelope(self.request).is_admin(user):
            return
        if own:
            raise IllegalOperationError("Users cannot change their own admin status.")
        require_admin(self.request, "change who is an admin")
        if user.is_superuser:
            raise IllegalOperationError("Operators are admins of every tenant.")
        access.change_tenant_admin(self.request.tenant, user, is_admin, by=self.request.user, request=self.request)

    @action(detail=True, methods=["put"])
    def deactivate(self, request, pk=None):
        """ZenML's deactivation also issues an invite link (`activation_token`); MLMeta has none,
        so an admin re-activates the user with `PUT /users/{id}` `{"active": true}`."""
        user = self.get_object()
        require_admin(request, "deactivate users")
        if user.pk == request.user.pk:
            raise IllegalOperationError("You cannot deactivate your own account.")
        return Response(self.render(update_account(request, user, {"active": False})))

    @action(detail=True, methods=["put"], url_path="email-opt-in")
    def email_opt_in(self, request, pk=None):
        user = self.get_object()
        if user.pk != request.user.pk:
            raise IllegalOperationError("Users can not opt in on behalf of another user.")
        data = self.validated(request.data, self.update_schema)
        changes = {key: data[key] for key in ("email", "email_opted_in") if key in data}
        return Response(self.render(update_account(request, user, changes)))

    # --- delete ------------------------------------------------------------------------------
    def perform_destroy(self, user):
        """The user leaves this tenant; the account itself goes when it belongs to no other tenant."""
        require_admin(self.request, "remove users")
        if user.pk == self.request.user.pk:
            raise IllegalOperationError("You cannot delete the user account you are logged in with.")
        if user.is_superuser and not self.request.user.is_superuser:
            raise IllegalOperationError("Operators cannot be removed by tenant admins.")
        if user.memberships.exclude(tenant=self.request.tenant).exists() or user.is_superuser:
            access.remove_member(self.request.tenant, user)
        else:
            user.delete()


def update_account(request, user, data) -> User:
    """Apply a UserUpdate's account-wide fields and (own) password, as the caller may."""
    changes = {key: data[key] for key in ACCOUNT_FIELDS if data.get(key) is not None}
    if changes and not may_change_account(request, user):
        raise IllegalOperationError(
            f"User `{user.username}` also belongs to other tenants; only an operator may change the account."
        )
    if data.get("password") is not None:
        change_own_password(user, data)
    apply_account_fields(user, changes)
    user.save()
    return user


@api_view(["GET", "PUT"])
def current_user(request):
    """`PUT` changes the caller's own profile and password; like the real server it leaves
    `is_admin` and `active` as they are."""
    user = request.user
    if request.method == "PUT":
        data = request.data
        validate_body(data, "UserUpdate", f"PUT {request.path}")
        if user.is_service_account and data.get("password") is not None:
            raise IllegalOperationError("Service accounts log in with API keys and have no password.")
        changes = {key: value for key, value in data.items() if key not in ("is_admin", "active")}
        user = User.objects.get(pk=user.pk)
        try:
            with transaction.atomic():
                update_account(request, user, changes)
        except IntegrityError:
            raise EntityExistsError(f"User with name `{changes.get('name')}` already exists.") from None
    return Response(UserEnvelope(request, hydrate_param(request, True)).render(user))
