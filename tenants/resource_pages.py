"""What the dashboard's management pages share with `/api/v1` (core.api.views.ZenViewSet): rows
found through restrict(), actions checked with rbac, refusals and changes audited through the same
signals, and the API's errors (core.api.exceptions) shown as form errors."""

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import render

from core.api.exceptions import EntityNotFound, ZenError
from core.signals import access_denied, changed_values, field_values, resource_changed
from tenants import rbac
from tenants.views import TenantViewMixin


def message_of(exc: ZenError) -> str:
    """The sentence of an API error, without the 422's pydantic framing or the 404's quotes."""
    if getattr(exc, "plain", None):
        return exc.plain
    text = exc.message
    return text[1:-1] if isinstance(exc, EntityNotFound) and text.startswith('"') else text


class ResourcePage(TenantViewMixin):
    """A page that shows and changes rows of `model`, a tenant-level resource of `/api/v1` (the
    access-management pages have tenants.manage_base instead: their changes go through tenants.access)."""

    model = None
    label = "object"
    atomic = staticmethod(transaction.atomic)  # the transaction writes run in (secrets: atomic_write)

    def show(self, template: str, status: int = 200, **context):
        """Render `template` with the frame's context (the tenant switcher's tenants)."""
        tenants = type(self.request.tenant).objects.filter(active=True)
        context.setdefault("user_tenants", rbac.restrict(tenants, self.request.user))
        return render(self.request, template, context, status=status)

    def may_create(self) -> bool:
        return rbac.can(self.request.user, "create", self.model.rbac_type, tenant=self.request.tenant)

    def may(self, action: str, obj) -> bool:
        return rbac.check(self.request.user, action, obj)

    def get_or_404(self, queryset, pk):
        obj = queryset.filter(pk=pk).first()
        if obj is None:
            raise Http404("There is no such object in this tenant, or you may not see it.")
        return obj

    def readable(self, pk):
        return self.get_or_404(self.restrict(self.model, "read"), pk)

    def writable(self, pk, action: str = "update"):
        """The row `pk` for `action`: 404 when the user cannot see it, 403 (audited) when they
        see it but may not act on it."""
        obj = self.readable(pk)
        if not self.may(action, obj):
            self.refuse(action, obj.pk)
        return obj

    def ensure_may_create(self) -> None:
        if not self.may_create():
            self.refuse("create")

    def refuse(self, action: str, resource_id="") -> None:
        access_denied.send(sender=self.model, request=self.request, action=action, resource_id=resource_id)
        raise PermissionDenied(f"You may not {action} this {self.label}.")

    def write(self, action: str, save, form, obj=None):
        """Run `save()` (which returns the row) in a transaction as the API does: a created row must
        be one the user may create, a name taken is a form error, an API error becomes a form error
        (None is returned); a change is audited."""
        before = field_values(obj) if obj is not None else None
        try:
            with self.atomic():
                saved = save()
                if action == "create" and not self.model.objects.allows(self.request.user, "create", saved):
                    raise PermissionDenied(f"You may not create this {self.label}.")
        except ZenError as exc:
            form.add_error(self.error_field(exc, form), message_of(exc))
            return None
        except IntegrityError:
            form.add_error("name" if "name" in form.fields else None, f"A {self.label} with this name already exists.")
            return None
        changes = field_values(saved) if before is None else changed_values(before, field_values(saved))
        self.audit(action, saved, saved.pk, changes)
        return saved

    @staticmethod
    def error_field(exc, form):
        field = getattr(exc, "field", "") or ""
        name = field.split(".")[-1]
        return name if name in form.fields else None

    def audit(self, action: str, obj, pk, changes: dict | None = None) -> None:
        resource_changed.send(
            sender=type(obj), request=self.request, action=action, obj=obj, resource_id=pk, changes=changes or {}
        )

    def remove(self, obj, rule) -> str | None:
        """Delete `obj` with `rule(obj)` (a stack_services function); its refusal, if it refuses."""
        pk = obj.pk
        try:
            with self.atomic():
                rule(obj)
        except ZenError as exc:
            return message_of(exc)
        self.audit("delete", obj, pk)
        return None
