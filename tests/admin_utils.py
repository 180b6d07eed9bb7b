"""Helpers for admin tests: URLs of every MLMeta admin and the POST data of a rendered form."""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

MLMETA_APPS = ("tenants", "mlmeta", "secrets_app")


def mlmeta_admins():
    """(model, model admin) of every admin registered by MLMeta's own apps."""
    registry = admin.site._registry.items()
    return sorted(
        ((model, model_admin) for model, model_admin in registry if model._meta.app_label in MLMETA_APPS),
        key=lambda item: item[0]._meta.label,
    )


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def form_data(response) -> dict:
    """What a browser would post back for the change form in `response`, unchanged."""
    data = {}
    _add_form(data, response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        _add_form(data, formset.management_form)
        for form in formset.forms:
            _add_form(data, form)
    return data


def form_errors(response) -> list:
    """Errors of the main form and inline formsets of a re-rendered admin form."""
    errors = [response.context["adminform"].form.errors]
    for inline in response.context["inline_admin_formsets"]:
        errors += [inline.formset.non_form_errors(), *inline.formset.errors]
    return [error for error in errors if error]


def _add_form(data, form):
    for name, field in form.fields.items():
        if field.disabled:
            continue
        key, value = form.add_prefix(name), form[name].value()
        if isinstance(field, forms.SplitDateTimeField):
            local = timezone.localtime(value) if value else None
            data[f"{key}_0"] = local.date().isoformat() if local else ""
            data[f"{key}_1"] = local.time().isoformat() if local else ""
        elif isinstance(field, forms.NullBooleanField):
            data[key] = {True: "true", False: "false"}.get(value, "unknown")
        elif isinstance(field, forms.BooleanField):
            if value:
                data[key] = "on"
        elif isinstance(field, (forms.MultipleChoiceField, forms.ModelMultipleChoiceField)):
            data[key] = [str(item) for item in value or ()]
        else:
            data[key] = "" if value is None else str(value)
