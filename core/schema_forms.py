"""A Django form built from a JSON schema (a flavor's `config_schema`, a connector auth method's),
rendered on the server with no JavaScript.

Each property becomes a field: string → text, integer/number → number, boolean → checkbox (a
yes/no/unset select when it may be null), enum → select, array/object and mixed types → a JSON
textarea. `required` marks required fields, `default` fills a new form, `description` is the
help text. Secret fields (`sensitive: true`, `format: password`) are password inputs that never
render their value back: left blank on an edit, the stored value stays. A secret reference such
as `{{my_secret.token}}` is accepted wherever a string is.

The assembled configuration is validated against the whole schema with jsonschema; each error
lands on its field. (django-jsonform and django-jsonforms render through JavaScript editors,
which our CSP and server-rendered pages rule out.)"""

import json

import jsonschema
from django import forms

JSON_TYPES = (str, int, float, bool, list, dict, type(None))
SCALARS = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict}


def schema_errors(schema: dict, value) -> list[tuple[str, str]]:
    """(path, message) of each way `value` breaks `schema`, sorted by path; the path is dotted
    ("" for the value as a whole)."""
    errors = jsonschema.Draft7Validator(schema or {}).iter_errors(value)
    return sorted((".".join(map(str, error.absolute_path)), error.message) for error in errors)


def is_reference(value) -> bool:
    """A secret reference like `{{secret.key}}` names a secret; it holds no secret value."""
    return isinstance(value, str) and value.startswith("{{") and value.endswith("}}")


def _resolve(spec: dict, defs: dict) -> dict:
    ref = spec.get("$ref") or (len(spec.get("allOf") or []) == 1 and spec["allOf"][0].get("$ref"))
    if ref and ref.startswith("#/$defs/"):
        return {**defs.get(ref.rsplit("/", 1)[1], {}), **{k: v for k, v in spec.items() if k not in ("$ref", "allOf")}}
    return spec


def describe(spec: dict, defs: dict) -> tuple[list[str], bool, list | None]:
    """(types, nullable, enum) of a property, looking through `$ref` and `anyOf`."""
    spec = _resolve(spec, defs)
    options = [_resolve(option, defs) for option in spec.get("anyOf") or [spec]]
    types, nullable, enum = [], False, None
    for option in options:
        kind = option.get("type")
        if kind == "null":
            nullable = True
        elif option.get("enum") is not None:
            enum = [value for value in option["enum"] if value is not None]
            types.append(kind or "string")
        elif kind:
            types.extend(kind if isinstance(kind, list) else [kind])
        else:
            types.append("any")
    return types or ["any"], nullable or None in (spec.get("enum") or []), enum


class JSONText(forms.CharField):
    """A JSON value in a textarea; a plain string too where the schema allows strings."""

    widget = forms.Textarea(attrs={"rows": 3, "class": "json", "spellcheck": "false"})

    def __init__(self, *, types, **kwargs):
        self.types = types
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            if "string" in self.types:
                return text
            raise forms.ValidationError(f"Enter valid JSON ({exc.msg} at line {exc.lineno}).") from None
        if "string" in self.types and not self.allows(parsed):
            return text
        return parsed

    def allows(self, value) -> bool:
        wanted = [SCALARS.get(kind, object) for kind in self.types]
        return any(isinstance(value, kind) and not (kind is int and isinstance(value, bool)) for kind in wanted)


class SchemaForm(forms.Form):
    """The fields of `schema`; `stored` is the configuration being edited (None: a new one)."""

    required_css_class = "required"

    def __init__(self, schema: dict, *args, stored: dict | None = None, **kwargs):
        self.schema = schema or {}
        self.stored = dict(stored or {})
        self.secret_names: set[str] = set()
        super().__init__(*args, initial=self.initial_values(), **kwargs)
        defs = self.schema.get("$defs") or self.schema.get("definitions") or {}
        required = set(self.schema.get("required") or [])
        for name, spec in (self.schema.get("properties") or {}).items():
            self.fields[name] = self.build(name, spec or {}, defs, name in required)

    def initial_values(self) -> dict:
        if self.stored or not self.schema:
            return {k: v for k, v in self.stored.items() if not self.is_secret_value(k, v)}
        props = self.schema.get("properties") or {}
        return {name: spec["default"] for name, spec in props.items() if spec.get("default") is not None}

    def is_secret_value(self, name, value) -> bool:
        spec = (self.schema.get("properties") or {}).get(name) or {}
        return is_secret(spec) and not is_reference(value)

    def build(self, name: str, spec: dict, defs: dict, required: bool) -> forms.Field:
        types, nullable, enum = describe(spec, defs)
        common = {
            "label": spec.get("title") or name.replace("_", " ").capitalize(),
            "help_text": (spec.get("description") or "").strip(),
            "required": required and not nullable,
        }
        if is_secret(spec):
            self.secret_names.add(name)
            return self.secret_field(name, common)
        if enum is not None:
            choices = [(value, str(value)) for value in enum]
            return forms.TypedChoiceField(
                choices=([] if common["required"] else [("", "—")]) + choices,
                coerce=lambda v, enum=enum: next((e for e in enum if str(e) == v), v),
                empty_value=None,
                **common,
            )
        if types == ["boolean"]:
            if nullable:
                return forms.NullBooleanField(widget=forms.NullBooleanSelect, **{**common, "required": False})
            return forms.BooleanField(**{**common, "required": False})
        if types == ["integer"]:
            return forms.IntegerField(**common)
        if types in (["number"], ["integer", "number"]):
            return forms.FloatField(**common)
        if types == ["string"]:
            return forms.CharField(strip=False, empty_value=None, **common)
        return JSONText(types=types, **common)

    def secret_field(self, name: str, common: dict) -> forms.Field:
        stored = self.stored.get(name)
        keeps = stored not in (None, "") and not is_reference(stored)
        if keeps:
            hint = "A value is stored: leave blank to keep it."
            common = {**common, "required": False, "help_text": " ".join(filter(None, [common["help_text"], hint]))}
        if is_reference(stored):  # a reference names a secret, it holds none: shown to be edited
            return forms.CharField(strip=False, empty_value=None, **common)
        field = forms.CharField(widget=forms.PasswordInput(render_value=False), strip=False, **common)
        field.keeps_stored = keeps
        return field

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        # Stored secrets the page never saw stand in as a string: they were valid when stored.
        configuration = {k: v if isinstance(v, JSON_TYPES) else "<stored>" for k, v in self.configuration().items()}
        for path, message in schema_errors(self.schema, configuration):
            name = path.split(".")[0] or _required_name(message)
            if name in self.secret_names:
                message = "This value is not valid here."  # a schema message quotes the value
            elif path:
                message = f"{path}: {message}"
            self.add_error(name if name in self.fields else None, message)
        return data

    def configuration(self) -> dict:
        """The submitted configuration: blank optional fields left out, blank secret fields kept
        as stored, keys the schema does not describe kept as they were."""
        values = {name: value for name, value in self.stored.items() if name not in self.fields}
        for name in self.fields:
            value = self.cleaned_data.get(name)
            if self.keeps(name):
                values[name] = self.stored[name]
            elif value not in (None, ""):
                values[name] = value
        return values

    def keeps(self, name) -> bool:
        """A secret field left blank whose stored value stays."""
        blank = self.cleaned_data.get(name) in (None, "")
        return name in self.secret_names and blank and getattr(self.fields[name], "keeps_stored", False)


def _required_name(message: str) -> str:
    """The property a "'x' is a required property" message names ("" for other messages)."""
    suffix = "' is a required property"
    return message[1 : -len(suffix)] if message.startswith("'") and message.endswith(suffix) else ""


def is_secret(spec: dict) -> bool:
    options = [spec, *(spec.get("anyOf") or [])]
    return any(option.get("sensitive") or option.get("format") == "password" for option in options)
