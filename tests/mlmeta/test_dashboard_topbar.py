"""The top bar's "Manage" menu: the links of _manage_nav.html inside a details/summary menu whose
summary carries aria-current when the page is one of them."""

import re

from django.conf import settings

SUMMARY = re.compile(r'<details class="menu manage">\s*<summary( aria-current="true")?>Manage</summary>')


def test_manage_menu_holds_every_line_of_the_include(alice_client):
    body = alice_client.get("/runs/").content.decode()
    menu = body[body.index('<details class="menu manage">') : body.index("</details>")]
    include = (settings.BASE_DIR / "templates" / "_manage_nav.html").read_text()
    lines = [line for line in include.splitlines() if line.startswith("<a ")]
    assert len(lines) >= 4 and menu.count("<a href=") == len(lines)
    assert SUMMARY.search(body).group(1) is None


def test_manage_summary_is_current_on_a_management_page(alice_client):
    body = alice_client.get("/secrets").content.decode()
    assert SUMMARY.search(body).group(1) == ' aria-current="true"'
    assert '<a href="/secrets" aria-current="page">Secrets</a>' in body
