"""The Run form of a snapshot, generated from its parameters: one typed field per pipeline
parameter (the config schema's type, else the recorded value's), the run name, the cache switch
and a JSON box for any other run-configuration override the launch API accepts.

The form only parses what the browser sends into JSON values; whether they fit the snapshot is
decided by mlmeta.launching (the API's validation), whose 422 is mapped back onto the fields by
`add_launch_error()`."""

import json

from django import forms

from mlmeta import launching

SCALAR_KINDS = ("integer", "number", "boolean", "string")
PARAM_PREFIX = "param_"


def _dumps(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _kind(prop: dict, default) -> tuple[str, bool]:
    """(integer | number | boolean | string | enum | json, nullable) of one parameter."""
    members = [prop, *(prop.get("anyOf") or prop.get("oneOf") or [])]
    if any("enum" in m for m in members):
        return "enum", any(m.get("type") == "null" for m in members) or default is None
    types = []
    for member in members:
        declared = member.get("type")
        types.extend(declared if isinstance(declared, list) else [declared] if declared else [])
    nullable = "null" in types or default is None
    concrete = sorted({t for t in types if t != "null"})
    if not concrete and default is not None:
        concrete = [launching.json_type(default)]
    if len(concrete) == 1 and concrete[0] in SCALAR_KINDS:
        return concrete[0], nullable
    if concrete == ["integer", "number"]:
        return "number", nullable
    return "json", nullable


def parameter_specs(snapshot) -> list[dict]:
    """The pipeline's parameters: name, schema, default (the recorded value, else the schema's),
    kind, whether it may be left empty. Schema order first, then recorded-only parameters."""
    section = launching.schema_section(snapshot.config_schema, "parameters") or {}
    properties = section.get("properties") or {}
    required = set(section.get("required") or [])
    recorded = (snapshot.pipeline_configuration or {}).get("parameters") or {}
    specs = []
    for name in [*properties, *(n for n in recorded if n not in properties)]:
        prop = properties.get(name) if isinstance(properties.get(name), dict) else {}
        has_default = name in recorded or "default" in prop
        default = recorded[name] if name in recorded else prop.get("default")
        kind, nullable = _kind(prop, default)
        specs.append(
            {
                "name": name,
                "kind": kind,
                "default": default,
                "required": name in required and not has_default,
                "nullable": nullable,
                "help": prop.get("description") or "",
                "enum": next((m["enum"] for m in [prop, *(prop.get("anyOf") or [])] if "enum" in m), None),
            }
        )
    return specs


def _field(spec: dict) -> forms.Field:
    kind, required, default = spec["kind"], spec["required"], spec["default"]
    common = {"label": spec["name"], "help_text": spec["help"], "initial": default}
    if kind == "integer":
        return forms.IntegerField(required=required, **common)
    if kind == "number":
        return forms.FloatField(required=required, **common)
    if kind == "boolean":
        if spec["nullable"]:
            return forms.NullBooleanField(required=False, **common)
        return forms.BooleanField(required=False, **common)
    if kind == "string":
        return forms.CharField(required=required, strip=False, empty_value=None if default is None else "", **common)
    if kind == "enum":
        choices = [(_dumps(v), str(v)) for v in spec["enum"]]
        if spec["nullable"] or not required:
            choices.insert(0, ("", "—"))
        common["initial"] = _dumps(default) if default is not None else ""
        return forms.TypedChoiceField(choices=choices, coerce=json.loads, empty_value=None, required=required, **common)
    common["help_text"] = (spec["help"] + " " if spec["help"] else "") + "JSON value."
    return forms.JSONField(required=required, widget=forms.Textarea(attrs={"rows": 3}), **common)


class OptionalJSONField(forms.JSONField):
    """A JSON box that starts empty (Django's JSONField shows a missing value as `null`)."""

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


class SnapshotRunForm(forms.Form):
    """What a run of `snapshot` may change; `overrides()` is the launch API's run_configuration."""

    run_name = forms.CharField(
        max_length=230, required=False, help_text="Template for the run's name; empty keeps the snapshot's."
    )
    enable_cache = forms.ChoiceField(
        choices=[("", "As configured"), ("true", "Use the cache"), ("false", "Run every step")],
        required=False,
        label="Cache",
    )
    extra = OptionalJSONField(
        required=False,
        label="Other overrides",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text='More run configuration as JSON, e.g. {"steps": {"train": {"parameters": {"lr": 0.01}}}, '
        '"tags": ["manual"]}.',
    )

    def __init__(self, snapshot, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.specs = parameter_specs(snapshot)
        for spec in self.specs:
            self.fields[PARAM_PREFIX + spec["name"]] = _field(spec)
        # Parameters first, then the run options.
        self.order_fields([PARAM_PREFIX + spec["name"] for spec in self.specs])

    def parameter_fields(self):
        return [self[PARAM_PREFIX + spec["name"]] for spec in self.specs]

    def option_fields(self):
        return [self[name] for name in ("run_name", "enable_cache", "extra")]

    def clean_extra(self):
        extra = self.cleaned_data.get("extra")
        if extra in (None, ""):
            return {}
        if not isinstance(extra, dict):
            raise forms.ValidationError('Give a JSON object, e.g. {"tags": ["manual"]}.')
        return extra

    def overrides(self) -> dict:
        """The run configuration to launch with: the JSON box, the run name, the cache choice and
        the parameters whose value differs from the default (unchanged ones are left alone)."""
        data = self.cleaned_data
        overrides = dict(data.get("extra") or {})
        if data.get("run_name"):
            overrides["run_name"] = data["run_name"]
        if data.get("enable_cache"):
            overrides["enable_cache"] = data["enable_cache"] == "true"
        changed = {
            spec["name"]: data[PARAM_PREFIX + spec["name"]]
            for spec in self.specs
            if _dumps(data.get(PARAM_PREFIX + spec["name"])) != _dumps(spec["default"])
        }
        given = overrides.get("parameters")
        if changed and (given is None or isinstance(given, dict)):  # a non-object is the launcher's to refuse
            overrides["parameters"] = {**(given or {}), **changed}
        return overrides

    def add_launch_error(self, exc) -> None:
        """Put the launcher's refusal on the field it names (a parameter, the run name, the cache,
        else the JSON box), or on the form."""
        if not getattr(exc, "field", None):  # not one field's problem (a snapshot no runner can run)
            self.add_error(None, exc.message)
            return
        loc, message = exc.field.split("."), exc.plain
        field = None
        if loc[:2] == ["run_configuration", "parameters"] and len(loc) > 2:
            field = PARAM_PREFIX + loc[2] if PARAM_PREFIX + loc[2] in self.fields else "extra"
        elif loc[:2] in (["run_configuration", "run_name"], ["run_configuration", "enable_cache"]):
            field = loc[1]
        elif loc[:1] == ["run_configuration"]:
            field = "extra"
        if field == "extra" or field is None:
            message = f"{'.'.join(loc[1:]) or 'run_configuration'}: {message}"
        self.add_error(field, message)
