"""`{% sso_buttons %}`: the "Sign in with <organization>" buttons of the login page."""

from django import template

from tenants.models import OrganizationSSO

register = template.Library()


@register.inclusion_tag("tenants/sso_buttons.html", takes_context=True)
def sso_buttons(context):
    enabled = OrganizationSSO.objects.filter(enabled=True).select_related("organization")
    organizations = sorted((sso.organization for sso in enabled), key=lambda org: org.name.lower())
    return {"organizations": organizations, "next": context.get("next", "")}
