"""Forms of the management pages. They check the shape of the input only; who may do what is
decided by tenants.access when the page applies them."""

from django import forms
from django.db.models import Q

from tenants.choices import RoleLevel
from tenants.models import Role, Team, Tenant, User
from tenants.roles import ACTIONS, ALL_PERMISSIONS, RESOURCE_TYPES, actions_of

ORGANIZATION_SCOPE, TENANT_SCOPE = "organization", "tenant"


def assignable_roles(organization):
    """The predefined roles and the organization's custom ones, by level."""
    return Role.objects.filter(Q(organization__isnull=True) | Q(organization=organization)).order_by("level", "name")


class RoleScopeForm(forms.Form):
    """A role and where it applies: the organization, this tenant or one of its projects."""

    role = forms.ModelChoiceField(queryset=Role.objects.none(), empty_label=None)
    scope = forms.ChoiceField()

    def __init__(self, *args, tenant: Tenant, projects, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant, self.projects = tenant, {str(p.pk): p for p in projects}
        self.fields["role"].queryset = assignable_roles(tenant.organization)
        self.fields["scope"].choices = [
            (TENANT_SCOPE, f"Tenant {tenant.name}"),
            *((f"project:{pk}", f"Project {p.name}") for pk, p in self.projects.items()),
            (ORGANIZATION_SCOPE, f"Organization {tenant.organization.name} (every tenant)"),
        ]

    def clean(self):
        data = super().clean()
        role, scope = data.get("role"), data.get("scope")
        if role is None or not scope:
            return data
        level = scope.partition(":")[0]
        if role.level != level:
            self.add_error("role", f"{role.name} is a {role.level} role: choose a {role.level} scope for it.")
        return data

    def scope_kwargs(self) -> dict:
        """The scope as tenants.access takes it."""
        scope = self.cleaned_data["scope"]
        if scope == ORGANIZATION_SCOPE:
            return {"organization": self.tenant.organization}
        if scope == TENANT_SCOPE:
            return {"tenant": self.tenant}
        return {"project": self.projects[scope.partition(":")[2]]}


class InviteForm(RoleScopeForm):
    email = forms.EmailField(max_length=254)
    days = forms.IntegerField(min_value=1, max_value=90, initial=7, label="Link valid for (days)")

    field_order = ["email", "role", "scope", "days"]


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "description"]
        widgets = {"description": forms.TextInput()}

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.organization = organization


class TeamMemberForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.none(), label="Person or service account")

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = candidates


class RoleForm(forms.Form):
    """A custom role: its name, level and permissions (the checkbox grid)."""

    name = forms.CharField(max_length=255)
    description = forms.CharField(required=False, widget=forms.TextInput())
    level = forms.ChoiceField(choices=RoleLevel.choices)
    permissions = forms.MultipleChoiceField(
        choices=[(p, p) for p in sorted(ALL_PERMISSIONS)], required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["level"].disabled = editing  # a role keeps its level: its assignments depend on it

    def grid(self) -> list[tuple[str, list]]:
        """[(resource type, [(action, permission or None, checked)])], one column per action."""
        if self.is_bound:
            checked = set(self.data.getlist("permissions")) if hasattr(self.data, "getlist") else set()
        else:
            checked = set(self.initial.get("permissions", ()))
        return [(t, permission_row(t, checked)) for t in RESOURCE_TYPES]


def permission_row(resource_type: str, checked) -> list:
    valid = actions_of(resource_type)
    return [(a, f"{resource_type}:{a}" if a in valid else None, f"{resource_type}:{a}" in checked) for a in ACTIONS]


class ServiceAccountForm(forms.Form):
    name = forms.SlugField(max_length=150, help_text="Letters, digits, '-' and '_'.")
    description = forms.CharField(required=False, widget=forms.TextInput())
    role = forms.ModelChoiceField(
        queryset=Role.objects.none(), required=False, label="Role in this tenant", empty_label="no role yet"
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = assignable_roles(organization).filter(level=RoleLevel.TENANT)


class APIKeyForm(forms.Form):
    name = forms.CharField(max_length=255)
    description = forms.CharField(required=False, widget=forms.TextInput())
    expires = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Optional; the key stops working then (server time, UTC).",
    )


class RotateForm(forms.Form):
    retain_period_minutes = forms.IntegerField(
        min_value=0, max_value=7 * 24 * 60, initial=0, label="Old key keeps working for (minutes)"
    )


class TenantSettingsForm(forms.ModelForm):
    logo_url = forms.URLField(max_length=1024, required=False, assume_scheme="https", label="Logo URL")

    class Meta:
        model = Tenant
        fields = ["name", "description", "logo_url", "enable_analytics", "display_announcements", "display_updates"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
