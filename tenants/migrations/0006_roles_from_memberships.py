"""Predefined roles, and a role for every existing member: admins become tenant admins, the
others tenant developers (what membership allowed before roles). API keys and service accounts
move to the organization of their tenant."""

from django.db import migrations

from tenants.roles import BUILTIN_ROLES


def forwards(apps, schema_editor):
    Role = apps.get_model("tenants", "Role")
    RoleAssignment = apps.get_model("tenants", "RoleAssignment")
    Membership = apps.get_model("tenants", "Membership")
    APIKey = apps.get_model("tenants", "APIKey")
    User = apps.get_model("tenants", "User")
    roles = {}
    for slug, (name, level, description, permissions) in BUILTIN_ROLES.items():
        roles[slug], _ = Role.objects.update_or_create(
            organization=None,
            slug=slug,
            defaults={
                "name": name,
                "level": level,
                "description": description,
                "permissions": sorted(permissions),
                "builtin": True,
            },
        )
    for membership in Membership.objects.select_related("tenant"):
        role = roles["tenant-admin" if membership.is_admin else "tenant-developer"]
        RoleAssignment.objects.create(
            organization_id=membership.tenant.organization_id,
            role=role,
            user_id=membership.member_id,
            tenant_id=membership.tenant_id,
        )
        User.objects.filter(pk=membership.member_id, is_service_account=True, organization=None).update(
            organization_id=membership.tenant.organization_id
        )
    for key in APIKey.objects.select_related("tenant"):
        key.organization_id = key.tenant.organization_id
        key.created_by_id = key.user_id
        key.save(update_fields=["organization", "created_by"])


class Migration(migrations.Migration):
    dependencies = [("tenants", "0005_roles_teams_invitations_audit")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
