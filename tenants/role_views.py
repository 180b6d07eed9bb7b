"""Roles: the predefined ones (read-only) and the organization's custom ones, each with its
permissions grouped by resource type; custom roles are created, edited (a checkbox grid) and
deleted by those holding role:create/update/delete in the organization (tenants.access)."""

import uuid

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import redirect
from django.views.generic import TemplateView

from tenants import access
from tenants.manage_base import ManagePage
from tenants.manage_forms import RoleForm, permission_row
from tenants.models import Role
from tenants.roles import ACTIONS, RESOURCE_TYPES


def grouped(permissions) -> list[tuple[str, list[str]]]:
    """[(resource type, [action, ...])] of the types `permissions` touch, in catalog order."""
    held = set(permissions)
    groups = [(t, [a for a, perm, _ in permission_row(t, ()) if perm in held]) for t in RESOURCE_TYPES]
    return [(t, actions) for t, actions in groups if actions]


def as_uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class RolePage(ManagePage):
    def roles(self):
        visible = Role.objects.restrict(self.request.user, "read")
        return visible.filter(Q(organization__isnull=True) | Q(organization=self.organization))

    def role(self, pk) -> Role:
        return self.get_or_404(self.roles(), pk)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "actions": ACTIONS}

    def save(self, form, role=None):
        """Create or update through tenants.access; (role, None) or (None, status)."""
        data = form.cleaned_data
        fields = {"name": data["name"], "description": data["description"], "by": self.request.user}
        fields["request"] = self.request
        if role is None:
            return self.attempt(
                form, access.create_role, self.organization, level=data["level"], add=data["permissions"], **fields
            )
        return self.attempt(form, access.update_role, role, permissions=data["permissions"], **fields)


class RoleListView(RolePage, TemplateView):
    template_name = "tenants/role_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        roles = list(self.roles().order_by("builtin", "level", "name"))
        context.update(
            builtin=[r for r in roles if r.builtin],
            custom=[r for r in roles if not r.builtin],
            may_create=self.may_org("create", "role"),
        )
        return context


class RoleCreateView(RolePage, TemplateView):
    """A new custom role; `?base=<role id>` starts from that role's level and permissions."""

    template_name = "tenants/role_form.html"

    def get(self, request):
        self.require(self.may_org("create", "role"), "You may not create roles in this organization.")
        base = self.roles().filter(pk=as_uuid(request.GET.get("base"))).first() if request.GET.get("base") else None
        initial = {"level": base.level, "permissions": base.permissions, "name": f"{base.name} (copy)"} if base else {}
        return self.page(form=RoleForm(initial=initial))

    def post(self, request):
        self.require(self.may_org("create", "role"), "You may not create roles in this organization.")
        form = RoleForm(request.POST)
        if not form.is_valid():
            return self.page(400, form=form)
        role, status = self.save(form)
        if role is None:
            return self.page(status, form=form)
        messages.success(request, f"Role {role.name} created.")
        return redirect("role-detail", pk=role.pk)


class RoleDetailView(RolePage, TemplateView):
    """A role's permissions by resource type; the edit form for a custom role one may update."""

    template_name = "tenants/role_detail.html"

    def get(self, request, pk):
        return self.page(role=self.role(pk))

    def post(self, request, pk):
        self.require(self.may_org("update", "role"), "You may not change roles in this organization.")
        role = self.role(pk)
        form = RoleForm(request.POST, initial={"level": role.level}, editing=True)
        if role.builtin:
            form.add_error(None, "Predefined roles cannot be changed.")
            return self.page(403, role=role, form=form)
        if not form.is_valid():
            return self.page(400, role=role, form=form)
        updated, status = self.save(form, role)
        if updated is None:
            return self.page(status, role=self.role(pk), form=form)
        messages.success(request, f"Role {updated.name} saved.")
        return redirect("role-detail", pk=pk)

    def get_context_data(self, role, form=None, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            role=role,
            groups=grouped(role.permissions),
            may_copy=self.may_org("create", "role"),
            assignment_count=role.assignments.count(),
            may_delete=not role.builtin and self.may_org("delete", "role"),
        )
        if not role.builtin and self.may_org("update", "role"):
            initial = {"name": role.name, "description": role.description, "level": role.level}
            context["form"] = form or RoleForm(initial={**initial, "permissions": role.permissions}, editing=True)
        return context


class RoleDeleteView(RolePage, TemplateView):
    http_method_names = ["post"]

    def post(self, request, pk):
        self.require(self.may_org("delete", "role"), "You may not delete roles in this organization.")
        role = self.role(pk)
        access.delete_role(role, by=request.user, request=request)
        messages.success(request, f"Role {role.name} deleted, with its assignments.")
        return redirect("role-list")
