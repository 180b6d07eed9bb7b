"""Kubernetes clusters: ZenML's `password` and `token` methods, plus `kubeconfig` (a whole
kubeconfig file as one secret). Verifying asks the cluster's version endpoint through the
official `kubernetes` client."""

import base64
import tempfile

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from secrets_app.connectors.base import AuthMethod, ConnectorError, ConnectorType, Field, ResourceType

K8S_LOGO = "https://public-flavor-logos.s3.eu-central-1.amazonaws.com/orchestrator/kubernetes.png"
TIMEOUT = 10

SERVER = Field("server", "Kubernetes Server URL")
INSECURE = Field(
    "insecure", "Skip TLS verification for the server certificate", required=False, type="boolean", default=False
)
CLUSTER = Field("cluster_name", "Kubernetes cluster name to be used in the kubeconfig file")
CA = Field("certificate_authority", "Kubernetes CA Certificate (base64 encoded)", secret=True, required=False)


class KubernetesConnector(ConnectorType):
    connector_type = "kubernetes"
    name = "Kubernetes Service Connector"
    description = "\nAuthenticates to a Kubernetes cluster and gives access to it as a resource.\n"
    logo_url = K8S_LOGO
    emoji = ":cyclone:"
    auth_methods = (
        AuthMethod(
            auth_method="password",
            name="Kubernetes Username and Password",
            description="\nUse a username and password to authenticate to the Kubernetes cluster.\n",
            schema_title="KubernetesUserPasswordConfig",
            fields=(
                Field("username", "Kubernetes Username", secret=True),
                Field("password", "Kubernetes Password", secret=True),
                CA,
                SERVER,
                INSECURE,
                CLUSTER,
            ),
        ),
        AuthMethod(
            auth_method="token",
            name="Kubernetes Token",
            description="\nUse a token to authenticate to the Kubernetes cluster.\n",
            schema_title="KubernetesTokenConfig",
            fields=(
                Field(
                    "client_certificate", "Kubernetes Client Certificate (base64 encoded)", secret=True, required=False
                ),
                Field("client_key", "Kubernetes Client Key (base64 encoded)", secret=True, required=False),
                Field("token", "Kubernetes Token", secret=True, required=False),
                CA,
                SERVER,
                INSECURE,
                CLUSTER,
            ),
        ),
        AuthMethod(
            auth_method="kubeconfig",
            name="Kubernetes kubeconfig",
            description="\nUse the contents of a kubeconfig file (and optionally one of its contexts).\n",
            schema_title="KubernetesKubeconfigConfig",
            fields=(
                Field("kubeconfig", "Kubeconfig file contents", secret=True),
                Field("context", "Kubeconfig context (default: the current one)", required=False),
                Field("cluster_name", "Kubernetes cluster name", required=False),
            ),
        ),
    )
    resource_types = (
        ResourceType(
            resource_type="kubernetes-cluster",
            name="Kubernetes cluster",
            description="\nA Kubernetes cluster, identified by its name.\n",
            logo_url=K8S_LOGO,
            emoji=":cyclone:",
        ),
    )

    def cluster_name(self) -> str:
        return self.config.get("cluster_name") or self.config.get("context") or "kubernetes"

    def authenticate(self) -> None:
        files = []
        try:
            api = self.api_client(files)
            k8s.VersionApi(api).get_code(_request_timeout=TIMEOUT)
        except ConnectorError:
            raise
        except k8s.ApiException as exc:
            raise ConnectorError(f"The cluster refused the credentials (HTTP {exc.status}: {exc.reason}).") from None
        except Exception as exc:  # urllib3 connection errors, TLS errors, bad kubeconfig
            raise ConnectorError(f"Cannot reach the Kubernetes cluster: {_describe(exc)}") from None
        finally:
            for handle in files:
                handle.close()

    def api_client(self, files: list) -> k8s.ApiClient:
        if self.method.auth_method == "kubeconfig":
            try:
                loaded = yaml.safe_load(self.config["kubeconfig"])
            except yaml.YAMLError:
                raise ConnectorError("The kubeconfig is not valid YAML.") from None
            if not isinstance(loaded, dict):
                raise ConnectorError("The kubeconfig is not a kubeconfig file.")
            return k8s_config.new_client_from_config_dict(loaded, context=self.config.get("context"))
        configuration = k8s.Configuration()
        configuration.host = self.config["server"]
        configuration.verify_ssl = not self.config.get("insecure", False)
        if self.config.get("certificate_authority"):
            configuration.ssl_ca_cert = _pem_file(self.config["certificate_authority"], files)
        if self.method.auth_method == "password":
            configuration.username = self.config["username"]
            configuration.password = self.config["password"]
            configuration.api_key = {"authorization": configuration.get_basic_auth_token()}
        elif self.config.get("token"):
            configuration.api_key = {"authorization": f"Bearer {self.config['token']}"}
        if self.config.get("client_certificate") and self.config.get("client_key"):
            configuration.cert_file = _pem_file(self.config["client_certificate"], files)
            configuration.key_file = _pem_file(self.config["client_key"], files)
        return k8s.ApiClient(configuration)

    def resources(self, resource_type, resource_id):
        name = self.cluster_name()
        if resource_id and resource_id != name:
            raise ConnectorError(f"The connector is configured for the cluster '{name}', not '{resource_id}'.")
        return [name]


def _pem_file(value: str, files: list) -> str:
    """A temporary file with a PEM value given base64-encoded (as ZenML stores it) or as is."""
    try:
        data = base64.b64decode(value, validate=True)
    except ValueError:
        data = value.encode()
    handle = tempfile.NamedTemporaryFile(suffix=".pem")  # noqa: SIM115 - closed by the caller
    handle.write(data)
    handle.flush()
    files.append(handle)
    return handle.name


def _describe(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return f"{type(exc).__name__} ({reason})" if reason else type(exc).__name__
