"""What a service connector type is: its authentication methods (each a configuration schema whose
secret fields carry `format: password`, as ZenML's pydantic `SecretStr` fields do), its resource
types, and the two things the server does with a configured connector: `verify()` (which
resources can it reach?) and `client()` (credentials a client may use, short-lived if it can).

The JSON a type renders is ZenML's `ServiceConnectorTypeModel`; the real client reads the schemas
to decide which values are secret, so they are generated the way pydantic would write them.
"""

import datetime as dt
import json
from dataclasses import dataclass, field


class ConnectorConfigError(ValueError):
    """The connector's type, authentication method, resource or configuration is not valid (422)."""


class ConnectorError(Exception):
    """The connector could not authenticate or reach a resource. The message is shown to the
    caller, so it must never contain a credential."""


@dataclass(frozen=True)
class Field:
    """One configuration attribute of an authentication method."""

    name: str
    title: str
    secret: bool = False
    required: bool = True
    type: str = "string"  # "string", "array" (of strings) or "boolean"
    default: object = None
    description: str = ""

    def schema(self) -> dict:
        if self.type == "boolean":
            return {"default": bool(self.default), "title": self.title, "type": "boolean"}
        base = {"items": {"type": "string"}, "type": "array"} if self.type == "array" else {"type": "string"}
        if self.secret:
            base = {"format": "password", **base, "writeOnly": True}
        if self.required:
            schema = {**base, "title": self.title}
        else:
            schema = {"anyOf": [base, {"type": "null"}], "default": None, "title": self.title}
        if self.description:
            schema["description"] = self.description
        return dict(sorted(schema.items())) if self.required else schema


@dataclass(frozen=True)
class AuthMethod:
    auth_method: str
    name: str
    description: str
    fields: tuple[Field, ...]
    schema_title: str
    min_expiration_seconds: int | None = None
    max_expiration_seconds: int | None = None
    default_expiration_seconds: int | None = None
    extra_secrets: bool = False  # accept any other attribute, as a secret (the generic type)

    def config_schema(self) -> dict:
        schema = {
            "description": self.description.strip().splitlines()[0],
            "properties": {f.name: f.schema() for f in self.fields},
            "required": [f.name for f in self.fields if f.required],
            "title": self.schema_title,
            "type": "object",
        }
        if self.extra_secrets:
            schema["additionalProperties"] = {"format": "password", "type": "string", "writeOnly": True}
        return schema

    def model(self) -> dict:
        return {
            "name": self.name,
            "auth_method": self.auth_method,
            "description": self.description,
            "config_schema": self.config_schema(),
            "min_expiration_seconds": self.min_expiration_seconds,
            "max_expiration_seconds": self.max_expiration_seconds,
            "default_expiration_seconds": self.default_expiration_seconds,
        }

    @property
    def expires(self) -> bool:
        return self.default_expiration_seconds is not None


@dataclass(frozen=True)
class ResourceType:
    resource_type: str
    name: str
    description: str
    supports_instances: bool = False
    auth_methods: tuple[str, ...] | None = None  # None: every method of the connector type
    logo_url: str | None = None
    emoji: str | None = None


@dataclass
class Configured:
    """A validated connector configuration, split the way it is stored."""

    auth_method: str
    resource_types: list[str]
    resource_id: str | None
    supports_instances: bool
    configuration: dict = field(default_factory=dict)  # non-secret values
    secrets: dict = field(default_factory=dict)  # secret values, stored through the secrets backend


@dataclass
class Credentials:
    """What `client()` hands out: a configuration of `auth_method` (of `connector_type`)."""

    connector_type: str
    auth_method: str
    resource_type: str | None
    resource_id: str | None
    configuration: dict
    secret_names: frozenset
    expires_at: dt.datetime | None = None


class ConnectorType:
    """A service connector type. Subclasses declare the class attributes and implement
    `resources()` and, where credentials can be narrowed or made short-lived, `client()`."""

    do_not_call_in_templates = True  # templates show the type's attributes; calling it needs arguments
    connector_type = ""
    name = ""
    description = ""
    logo_url: str | None = None
    emoji: str | None = None
    docs_url: str | None = None
    auth_methods: tuple[AuthMethod, ...] = ()
    resource_types: tuple[ResourceType, ...] = ()

    def __init__(self, auth_method: str, configuration: dict, expiration_seconds: int | None = None):
        self.method = self.auth_method_spec(auth_method)
        self.config = configuration
        self.expiration_seconds = expiration_seconds or self.method.default_expiration_seconds

    # --- the type ----------------------------------------------------------------------------
    @classmethod
    def model(cls) -> dict:
        """ZenML's ServiceConnectorTypeModel; `local`/`remote` as the real server reports them."""
        return {
            "name": cls.name,
            "connector_type": cls.connector_type,
            "description": cls.description,
            "resource_types": [cls.resource_model(r) for r in cls.resource_types],
            "auth_methods": [m.model() for m in cls.auth_methods],
            "supports_auto_configuration": False,
            "logo_url": cls.logo_url,
            "emoji": cls.emoji,
            "docs_url": cls.docs_url,
            "sdk_docs_url": None,
            "local": True,
            "remote": False,
        }

    @classmethod
    def resource_model(cls, resource: ResourceType) -> dict:
        return {
            "name": resource.name,
            "resource_type": resource.resource_type,
            "description": resource.description,
            "auth_methods": list(cls.methods_for(resource)),
            "supports_instances": resource.supports_instances,
            "logo_url": resource.logo_url,
            "emoji": resource.emoji,
        }

    @classmethod
    def methods_for(cls, resource: ResourceType) -> tuple[str, ...]:
        return resource.auth_methods or tuple(m.auth_method for m in cls.auth_methods)

    @classmethod
    def auth_method_spec(cls, auth_method: str) -> AuthMethod:
        for method in cls.auth_methods:
            if method.auth_method == auth_method:
                return method
        known = ", ".join(m.auth_method for m in cls.auth_methods)
        raise ConnectorConfigError(
            f"The {cls.name} has no authentication method '{auth_method}' (it supports: {known})."
        )

    @classmethod
    def resource_spec(cls, resource_type: str) -> ResourceType:
        for resource in cls.resource_types:
            if resource.resource_type == resource_type:
                return resource
        known = ", ".join(r.resource_type for r in cls.resource_types)
        raise ConnectorConfigError(f"The {cls.name} has no resource type '{resource_type}' (it supports: {known}).")

    @classmethod
    def matches(cls, resource_type: str | None, auth_method: str | None) -> bool:
        """Whether the type offers `resource_type` and `auth_method` (either may be None)."""
        resources = [r for r in cls.resource_types if resource_type in (None, r.resource_type)]
        return bool(resources) and (auth_method is None or any(auth_method in cls.methods_for(r) for r in resources))

    # --- validating a configuration ----------------------------------------------------------
    @classmethod
    def configure(
        cls, auth_method: str, resource_types, resource_id: str | None, configuration: dict | None
    ) -> Configured:
        """Validate a request's settings as ZenML's `validate_and_configure_resources` does: one
        resource type makes a single-type connector, none or several a multi-type one; required
        attributes must be there; secret ones must be strings; unknown ones are dropped (the
        generic type keeps them as secrets)."""
        method = cls.auth_method_spec(auth_method)
        resource_types = [resource_types] if isinstance(resource_types, str) else list(resource_types or [])
        if len(resource_types) == 1:
            resource = cls.resource_spec(resource_types[0])
            if auth_method not in cls.methods_for(resource):
                raise ConnectorConfigError(
                    f"The '{auth_method}' authentication method cannot access '{resource.resource_type}' resources."
                )
            configured = Configured(auth_method, [resource.resource_type], resource_id, resource.supports_instances)
        else:
            for name in resource_types:
                cls.resource_spec(name)
            configured = Configured(auth_method, [r.resource_type for r in cls.resource_types], None, False)
        if configuration is not None:
            cls._split(method, configuration, configured)
        return configured

    @staticmethod
    def _split(method: AuthMethod, configuration: dict, configured: Configured) -> None:
        declared = {f.name for f in method.fields}
        for spec in method.fields:
            value = configuration.get(spec.name)
            if value is None:
                if spec.required:
                    raise ConnectorConfigError(
                        f"connector configuration is not valid: missing required attribute '{spec.name}'"
                    )
                continue
            target = configured.secrets if spec.secret else configured.configuration
            target[spec.name] = _coerce(spec, value)
        if method.extra_secrets:
            for name, value in configuration.items():
                if name not in declared and value is not None:
                    configured.secrets[name] = _coerce(Field(name, name, secret=True), value)

    def check_expiration(self) -> None:
        low, high = self.method.min_expiration_seconds, self.method.max_expiration_seconds
        seconds = self.expiration_seconds
        if seconds is None or not self.method.expires:
            return
        if (low is not None and seconds < low) or (high is not None and seconds > high):
            raise ConnectorConfigError(
                f"expiration_seconds must be between {low} and {high or 'unbounded'} for the "
                f"'{self.method.auth_method}' authentication method, not {seconds}."
            )

    # --- using it ----------------------------------------------------------------------------
    def verify(self, resource_types: list[str], resource_type=None, resource_id=None, list_resources=True) -> dict:
        """ZenML's ServiceConnectorResourcesModel body (without id/name/connector_type): a
        resource list per type, or a global `error` when authentication fails."""
        wanted = [resource_type] if resource_type else resource_types
        for name in wanted:
            if name not in resource_types:
                raise ConnectorConfigError(f"The connector is not configured for '{name}' resources.")
        try:
            self.authenticate()
        except ConnectorError as exc:
            return {
                "resources": [{"resource_type": r, "resource_ids": None, "error": None} for r in wanted],
                "error": str(exc),
            }
        listed = []
        for name in wanted:
            entry = {"resource_type": name, "resource_ids": None, "error": None}
            if list_resources or resource_id or len(wanted) == 1:
                try:
                    entry["resource_ids"] = self.resources(name, resource_id)
                except ConnectorError as exc:
                    entry["error"] = str(exc)
            listed.append(entry)
        return {"resources": listed, "error": None}

    def authenticate(self) -> None:
        """Raise ConnectorError unless the credentials work (by default: listing works)."""

    def resources(self, resource_type: str, resource_id: str | None) -> list[str]:
        """The ids of the `resource_type` resources the credentials reach (only `resource_id`,
        when given and reachable); raises ConnectorError."""
        raise NotImplementedError

    def client(self, resource_type: str | None, resource_id: str | None) -> Credentials:
        """Credentials for `resource_type`/`resource_id`: by default the configured ones."""
        return Credentials(
            connector_type=self.connector_type,
            auth_method=self.method.auth_method,
            resource_type=resource_type,
            resource_id=resource_id,
            configuration=dict(self.config),
            secret_names=self.secret_names(),
        )

    def secret_names(self) -> frozenset:
        declared = {f.name for f in self.method.fields}
        extra = set(self.config) - declared if self.method.extra_secrets else set()
        return frozenset({f.name for f in self.method.fields if f.secret} | extra)


def _coerce(spec: Field, value):
    if spec.secret:
        if not isinstance(value, str):
            raise ConnectorConfigError(
                f"connector configuration is not valid: attribute '{spec.name}' is a secret but is not a string"
            )
        return value
    if spec.type == "array" and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = value.split(",")
    if spec.type == "boolean" and not isinstance(value, bool):
        if str(value).lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ConnectorConfigError(
                f"connector configuration is not valid: attribute '{spec.name}' is not a boolean"
            )
        value = str(value).lower() in ("true", "1", "yes")
    if spec.type == "string" and not isinstance(value, str):
        value = str(value)
    return value
