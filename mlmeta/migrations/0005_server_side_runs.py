from django.db import migrations, models


class Migration(migrations.Migration):
    """Server-side runs: how a run was launched, and the claim that makes its Celery task idempotent."""

    dependencies = [
        ("mlmeta", "0004_snapshot_step_order"),
    ]

    operations = [
        migrations.AddField(
            model_name="pipelinerun",
            name="launch",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="pipelinerun",
            name="runner_claimed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
