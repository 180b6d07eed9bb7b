"""OAuth access and refresh tokens are kept only as their SHA-256 from now on
(`COMPLIANT_BCP_RFC9700_TOKEN_STORAGE`): blank the plaintext of the tokens issued before.
django-oauth-toolkit looks tokens up by `token_checksum`, which its migrations 0012 and 0015
filled for every row, so those tokens keep working until they expire."""

from django.db import migrations


def redact(apps, schema_editor):
    for name in ("AccessToken", "RefreshToken"):
        apps.get_model("oauth2_provider", name).objects.exclude(token="").update(token="")


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0008_organization_sso"),
        ("oauth2_provider", "0022_refreshtoken_token_family_index"),
    ]

    operations = [migrations.RunPython(redact, migrations.RunPython.noop)]
