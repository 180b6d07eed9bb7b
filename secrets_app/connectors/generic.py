"""Any other service: an optional URL plus whatever secret values it needs (API keys, tokens,
passwords), all stored through the secrets backend. Not a ZenML type; the real client shows
it like any server-side type (through the raw API it accepts attributes beyond the declared ones)."""

import requests

from secrets_app.connectors.base import AuthMethod, ConnectorError, ConnectorType, Field, ResourceType

TIMEOUT = 10


class GenericConnector(ConnectorType):
    connector_type = "generic"
    name = "Generic Service Connector"
    description = "\nCredentials for any HTTP service: an optional URL and any number of secret values.\n"
    emoji = ":key:"
    auth_methods = (
        AuthMethod(
            auth_method="secrets",
            name="Secret values",
            description="\nArbitrary secret values (for example `token`, `api_key` or `password`), stored\n"
            "in the secrets store; `url` says where the service is.\n",
            schema_title="GenericSecretsConfig",
            fields=(
                Field("url", "Service URL", required=False),
                Field("username", "Username", required=False),
                Field("token", "Token or API key", secret=True, required=False),
                Field("password", "Password", secret=True, required=False),
            ),
            extra_secrets=True,
        ),
    )
    resource_types = (
        ResourceType(
            resource_type="generic-service",
            name="Generic service",
            description="\nA service identified by its URL.\n",
            emoji=":key:",
        ),
    )

    def authenticate(self) -> None:
        url = self.config.get("url")
        if not url:
            return
        headers = {"Authorization": f"Bearer {self.config['token']}"} if self.config.get("token") else {}
        auth = (self.config["username"], self.config["password"]) if self.config.get("password") else None
        try:
            response = requests.get(url, headers=headers, auth=auth, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise ConnectorError(f"Cannot reach {url}: {type(exc).__name__}") from None
        if response.status_code in (401, 403):
            raise ConnectorError(f"{url} refused the credentials (HTTP {response.status_code}).")

    def resources(self, resource_type, resource_id):
        own = self.config.get("url") or "generic"
        if resource_id and resource_id != own:
            raise ConnectorError(f"The connector is configured for '{own}', not '{resource_id}'.")
        return [own]
