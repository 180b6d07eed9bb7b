"""`{% manage_menu %}`: the top bar's "Manage" menu around the links of `_manage_nav.html`.

The include stays the one place each management page adds its line; the tag renders it first so
the menu's summary can say whether the current page is one of them (aria-current).
"""

from django import template

register = template.Library()


@register.inclusion_tag("_manage_menu.html", takes_context=True)
def manage_menu(context):
    links = context.template.engine.get_template("_manage_nav.html").render(context)
    return {"links": links, "current": "aria-current=" in links}
