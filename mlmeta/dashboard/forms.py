from django import forms

from mlmeta.choices import ModelStage


class PromoteForm(forms.Form):
    """Which stage a model version moves to; `force` takes a stage another version holds."""

    stage = forms.ChoiceField(
        choices=[
            (ModelStage.STAGING, "Staging"),
            (ModelStage.PRODUCTION, "Production"),
            (ModelStage.ARCHIVED, "Archived"),
        ]
    )
    force = forms.BooleanField(required=False, label="Archive the current holder of this stage")
