"""Docker/OCI registries, with a username and a password or token (ZenML's `docker` type).

Verifying logs in to the registry's v2 API: basic auth, or the bearer-token challenge that
Docker Hub and most registries answer with."""

import requests

from secrets_app.connectors.base import AuthMethod, ConnectorError, ConnectorType, Field, ResourceType

DOCKER_HUB = "https://index.docker.io"
DOCKER_LOGO = "https://public-flavor-logos.s3.eu-central-1.amazonaws.com/container_registry/docker.png"
TIMEOUT = 10


def registry_url(registry: str | None) -> str:
    if not registry or registry.rstrip("/") in ("docker.io", "index.docker.io", "https://index.docker.io/v1"):
        return DOCKER_HUB
    return registry.rstrip("/") if "://" in registry else f"https://{registry.rstrip('/')}"


def docker_login(registry: str | None, username: str, password: str) -> None:
    """Raise ConnectorError unless `username`/`password` may use the registry's v2 API."""
    base = registry_url(registry)
    try:
        response = requests.get(f"{base}/v2/", auth=(username, password), timeout=TIMEOUT)
        challenge = response.headers.get("WWW-Authenticate", "")
        if response.status_code == 401 and challenge.lower().startswith("bearer "):
            params = dict(part.split("=", 1) for part in challenge[7:].replace('"', "").split(",") if "=" in part)
            realm = params.pop("realm", "")
            response = requests.get(realm, params=params, auth=(username, password), timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise ConnectorError(f"Cannot reach the registry {base}: {type(exc).__name__}") from None
    if response.status_code in (401, 403):
        raise ConnectorError(f"The registry {base} refused the credentials (HTTP {response.status_code}).")
    if response.status_code >= 400:
        raise ConnectorError(f"The registry {base} answered HTTP {response.status_code}.")


class DockerConnector(ConnectorType):
    connector_type = "docker"
    name = "Docker Service Connector"
    description = "\nAuthenticates to a Docker or OCI container registry with a username and a password or token.\n"
    logo_url = DOCKER_LOGO
    emoji = ":whale:"
    auth_methods = (
        AuthMethod(
            auth_method="password",
            name="Docker username and password/token",
            description="\nUse a username and password or access token to authenticate with a container\n"
            "registry server.\n",
            schema_title="DockerConfiguration",
            fields=(
                Field("username", "Username", secret=True),
                Field("password", "Password", secret=True),
                Field("registry", "Registry server URL. Omit to use DockerHub.", required=False),
            ),
        ),
    )
    resource_types = (
        ResourceType(
            resource_type="docker-registry",
            name="Docker/OCI container registry",
            description="\nA Docker or OCI compatible container registry, identified by its URL\n"
            "(docker.io for DockerHub).\n",
            logo_url=DOCKER_LOGO,
            emoji=":whale:",
        ),
    )

    def authenticate(self) -> None:
        docker_login(self.config.get("registry"), self.config["username"], self.config["password"])

    def resources(self, resource_type, resource_id):
        registry = self.config.get("registry") or "docker.io"
        if resource_id and registry_url(resource_id) != registry_url(registry):
            raise ConnectorError(f"The connector is configured for the registry '{registry}', not '{resource_id}'.")
        return [registry]
