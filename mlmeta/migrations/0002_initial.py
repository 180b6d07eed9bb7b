# The relations, indexes and constraints this migration added to the models of 0001 now come with
# them there (migrating a new database re-rendered every related model once per field: about ten
# seconds). Kept, empty, for the databases that applied it.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mlmeta", "0001_initial"),
    ]

    operations = []
