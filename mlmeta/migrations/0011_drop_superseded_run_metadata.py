from django.db import migrations
from django.db.models import Exists, OuterRef, Q


def drop_superseded(apps, schema_editor):
    """Keep only the newest row of each (resource, key): the value the envelopes always showed.
    0012 then makes (resource_type, resource_id, key) unique."""
    RunMetadata = apps.get_model("mlmeta", "RunMetadata")
    newer = RunMetadata.objects.filter(
        Q(created__gt=OuterRef("created")) | Q(created=OuterRef("created"), id__gt=OuterRef("id")),
        resource_type=OuterRef("resource_type"),
        resource_id=OuterRef("resource_id"),
        key=OuterRef("key"),
    )
    RunMetadata.objects.filter(Exists(newer)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("mlmeta", "0010_tenant_project_statistics"),
    ]

    operations = [
        migrations.RunPython(drop_superseded, migrations.RunPython.noop),
    ]
