"""The Content-Security-Policy of the dashboard (django-csp): present on every page, strict enough
that an escaped-but-missed payload could not run, kept by the visualization frame's own sandbox
policy; user content is escaped; and no template carries inline script, handlers or styles."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from mlmeta.choices import MetadataResourceType, TaggableResourceType
from mlmeta.models import RunMetadata, Tag, TagResource
from tests.mlmeta.test_dashboard_runs import XSS, make_run, store_root, world  # noqa: F401  (fixtures)

TEMPLATES = Path(settings.BASE_DIR) / "templates"

EXPECTED = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "frame-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'self'"},
}


def directives(header: str) -> dict[str, set[str]]:
    parsed = {}
    for part in filter(None, (p.strip() for p in header.split(";"))):
        name, *sources = part.split()
        parsed[name] = set(sources)
    return parsed


@pytest.mark.parametrize(
    "url", ["/runs/", "/artifacts/", "/models/", "/stacks/", "/schedules/", "/search?q=x", "/admin/"]
)
def test_dashboard_pages_send_the_policy(alice_client, world, url):  # noqa: F811
    response = alice_client.get(url)
    assert response.status_code == 200, url
    assert directives(response["Content-Security-Policy"]) == EXPECTED


def test_run_page_and_login_page_send_the_policy(client, alice_client, world):  # noqa: F811
    run = make_run(world, "run-1")
    assert directives(alice_client.get(f"/runs/{run.pk}/")["Content-Security-Policy"]) == EXPECTED
    client.logout()
    assert directives(client.get("/login")["Content-Security-Policy"]) == EXPECTED


def test_user_content_in_run_name_tag_and_metadata_is_escaped(alice_client, world):  # noqa: F811
    run = make_run(world, f"run-{XSS}")
    tag = Tag.objects.create(tenant=world["project"].tenant, name='tag"><img src=x onerror=alert(1)>', user=run.user)
    TagResource.objects.create(tag=tag, resource_type=TaggableResourceType.PIPELINE_RUN, resource_id=run.pk)
    RunMetadata.objects.create(
        resource_type=MetadataResourceType.PIPELINE_RUN,
        resource_id=run.pk,
        key=f"key-{XSS}",
        value=f"value-{XSS}",
        type="str",
        project=world["project"],
        user=world["user"],
    )
    for url in ("/runs/", f"/runs/{run.pk}/"):
        body = alice_client.get(url).content.decode()
        assert XSS not in body and "<img src=x" not in body, url
        assert "run-&lt;script&gt;" in body and "&lt;img src=x onerror=alert(1)&gt;" in body, url
    body = alice_client.get(f"/runs/{run.pk}/").content.decode()
    assert "key-&lt;script&gt;" in body and "value-&lt;script&gt;" in body


INLINE = {
    "inline <script> without src": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "on*= event handler": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "style= attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
}


def test_no_template_has_inline_script_handlers_or_styles():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for what, pattern in INLINE.items():
            found += [f"{path.relative_to(TEMPLATES)}: {what}: {m.group(0)!r}" for m in pattern.finditer(text)]
    assert found == [], "\n".join(found)


def test_the_inline_pattern_catches_what_it_should():
    samples = ["<script>alert(1)</script>", '<a href="#" onclick="x()">', '<p style="color:red">']
    assert [bool(p.search(s)) for p, s in zip(INLINE.values(), samples, strict=True)] == [True, True, True]
    assert not INLINE["inline <script> without src"].search('<script src="/static/js/x.js" defer></script>')


def test_swagger_page_runs_only_script_files(db, client):
    response = client.get("/api/control/v1/docs/")
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == {"'self'"} and policy["style-src"] == {"'self'", "'unsafe-inline'"}
    html = response.content.decode()
    assert not INLINE["inline <script> without src"].search(html)
    script = client.get("/api/control/v1/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
