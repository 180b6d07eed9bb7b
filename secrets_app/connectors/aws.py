"""AWS, through boto3: long-lived keys (`secret-key`), given STS tokens (`sts-token`), and keys
the server trades for short-lived STS credentials (`iam-role` by AssumeRole, `session-token`,
`federation-token`). `endpoint_url` points every client at an S3/STS-compatible endpoint
(MinIO, moto, LocalStack). ZenML's `implicit` method (the server's own ambient credentials) is
left out on purpose: it would lend the server's identity to whoever registers a connector."""

import base64
import datetime as dt
import re

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from secrets_app.connectors.base import (
    AuthMethod,
    ConnectorConfigError,
    ConnectorError,
    ConnectorType,
    Credentials,
    Field,
    ResourceType,
)
from secrets_app.connectors.docker import DockerConnector

AWS_LOGO = "https://public-flavor-logos.s3.eu-central-1.amazonaws.com/connectors/aws/aws.png"
TIMEOUTS = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 1})

POLICY_ARNS = Field(
    "policy_arns",
    "ARNs of the IAM managed policies that you want to use as a managed session policy. The policies must "
    "exist in the same account as the IAM user that is requesting temporary credentials.",
    required=False,
    type="array",
)
POLICY = Field(
    "policy", "An IAM policy in JSON format that you want to use as an inline session policy", required=False
)
KEY_ID = Field(
    "aws_access_key_id",
    "AWS Access Key ID",
    secret=True,
    description="An AWS access key ID associated with an AWS account or IAM user.",
)
SECRET_KEY = Field("aws_secret_access_key", "AWS Secret Access Key", secret=True)
SESSION_TOKEN = Field("aws_session_token", "AWS Session Token", secret=True)
REGION = Field("region", "AWS Region")
ENDPOINT = Field(
    "endpoint_url",
    "AWS Endpoint URL",
    required=False,
    description="For S3-compatible stores (MinIO, LocalStack): the endpoint every AWS client uses.",
)
TEMPORARY = ("iam-role", "session-token", "federation-token")


def _method(auth_method, name, description, title, fields, expiration=(None, None, None)) -> AuthMethod:
    low, high, default = expiration
    return AuthMethod(
        auth_method=auth_method,
        name=name,
        description=description,
        schema_title=title,
        fields=fields,
        min_expiration_seconds=low,
        max_expiration_seconds=high,
        default_expiration_seconds=default,
    )


class AWSConnector(ConnectorType):
    connector_type = "aws"
    name = "AWS Service Connector"
    description = "\nAuthenticates to AWS and gives access to S3 buckets, EKS clusters and ECR registries.\n"
    logo_url = AWS_LOGO
    emoji = ":large_orange_diamond:"
    auth_methods = (
        _method(
            "secret-key",
            "AWS Secret Key",
            "\nLong-lived AWS credentials: an access key ID and a secret access key.\n",
            "AWSSecretKeyConfig",
            (KEY_ID, SECRET_KEY, REGION, ENDPOINT),
        ),
        _method(
            "sts-token",
            "AWS STS Token",
            "\nTemporary STS credentials configured explicitly; they stop working when they expire.\n",
            "STSTokenConfig",
            (KEY_ID, SECRET_KEY, SESSION_TOKEN, REGION, ENDPOINT),
        ),
        _method(
            "iam-role",
            "AWS IAM Role",
            "\nGenerates temporary STS credentials by assuming an AWS IAM role with an access key.\n",
            "IAMRoleAuthenticationConfig",
            (POLICY_ARNS, POLICY, KEY_ID, SECRET_KEY, REGION, ENDPOINT, Field("role_arn", "AWS IAM Role ARN")),
            (900, None, 3600),
        ),
        _method(
            "session-token",
            "AWS Session Token",
            "\nGenerates temporary session STS tokens for IAM users.\n",
            "SessionTokenAuthenticationConfig",
            (KEY_ID, SECRET_KEY, REGION, ENDPOINT),
            (900, 129600, 43200),
        ),
        _method(
            "federation-token",
            "AWS Federation Token",
            "\nGenerates temporary STS tokens for federated users.\n",
            "FederationTokenAuthenticationConfig",
            (POLICY_ARNS, POLICY, KEY_ID, SECRET_KEY, REGION, ENDPOINT),
            (900, 129600, 43200),
        ),
    )
    resource_types = (
        ResourceType(
            "aws-generic",
            "Generic AWS resource",
            "\nAny AWS service, through a boto3 session; the resource id is the region.\n",
            logo_url=AWS_LOGO,
            emoji=":large_orange_diamond:",
        ),
        ResourceType(
            "s3-bucket",
            "AWS S3 bucket",
            "\nS3 buckets, identified as s3://bucket-name.\n",
            supports_instances=True,
            logo_url="https://public-flavor-logos.s3.eu-central-1.amazonaws.com/artifact_store/aws.png",
            emoji=":package:",
        ),
        ResourceType(
            "kubernetes-cluster",
            "AWS EKS Kubernetes cluster",
            "\nEKS clusters, identified by name.\n",
            supports_instances=True,
            logo_url="https://public-flavor-logos.s3.eu-central-1.amazonaws.com/orchestrator/kubernetes.png",
            emoji=":cyclone:",
        ),
        ResourceType(
            "docker-registry",
            "AWS ECR container registry",
            "\nThe account's ECR registry, identified by its URI.\n",
            logo_url="https://public-flavor-logos.s3.eu-central-1.amazonaws.com/container_registry/docker.png",
            emoji=":whale:",
        ),
    )

    def __init__(self, auth_method, configuration, expiration_seconds=None):
        super().__init__(auth_method, configuration, expiration_seconds)
        self._credentials = None

    # --- sessions --------------------------------------------------------------------------
    def aws_client(self, service: str, **credentials):
        credentials = credentials or self.session_credentials()
        return aws_client(service, self.config["region"], self.config.get("endpoint_url"), **credentials)

    def configured_keys(self) -> dict:
        """The stored keys; a connector saved without them (e.g. through the admin) is a 422, not a 500."""
        names = ["aws_access_key_id", "aws_secret_access_key"]
        if self.method.auth_method == "sts-token":
            names.append("aws_session_token")
        missing = [name for name in names if not self.config.get(name)]
        if missing:
            raise ConnectorConfigError(f"The connector's configuration has no {', '.join(missing)}.")
        return {name: self.config[name] for name in names}

    def session_credentials(self) -> dict:
        """boto3 credentials: the configured keys, or (temporary methods) STS credentials
        obtained once per connector instance."""
        if self.method.auth_method not in TEMPORARY:
            return self.configured_keys()
        if self._credentials is None:
            self._credentials = self.temporary_credentials()
        return {k: v for k, v in self._credentials.items() if k != "expires_at"}

    def temporary_credentials(self) -> dict:
        """Short-lived STS credentials for the configured keys, valid `expiration_seconds`."""
        self.check_expiration()
        sts = self.aws_client("sts", **self.configured_keys())
        seconds = self.expiration_seconds
        policy = {k: v for k, v in (("Policy", self.config.get("policy")), ("PolicyArns", self.policy_arns())) if v}
        with _aws_errors("STS"):
            if self.method.auth_method == "iam-role":
                answer = sts.assume_role(
                    RoleArn=self.config["role_arn"],
                    RoleSessionName="mlmeta-connector",
                    DurationSeconds=seconds,
                    **policy,
                )
            elif self.method.auth_method == "session-token":
                answer = sts.get_session_token(DurationSeconds=seconds)
            else:
                answer = sts.get_federation_token(Name="mlmeta-connector", DurationSeconds=seconds, **policy)
        issued = answer["Credentials"]
        return {
            "aws_access_key_id": issued["AccessKeyId"],
            "aws_secret_access_key": issued["SecretAccessKey"],
            "aws_session_token": issued["SessionToken"],
            "expires_at": issued["Expiration"],
        }

    def policy_arns(self) -> list[dict]:
        return [{"arn": arn} for arn in self.config.get("policy_arns") or []]

    # --- verify ----------------------------------------------------------------------------
    def authenticate(self) -> None:
        with _aws_errors("STS"):
            self.aws_client("sts").get_caller_identity()

    def resources(self, resource_type, resource_id):
        if resource_type == "aws-generic":
            return self._only([self.config["region"]], resource_id, "region")
        if resource_type == "s3-bucket":
            return self.buckets(resource_id)
        if resource_type == "kubernetes-cluster":
            with _aws_errors("EKS"):
                names = self.aws_client("eks").list_clusters()["clusters"]
            return self._only(names, resource_id, "EKS cluster")
        return self._only([self.registry_uri()], resource_id, "ECR registry")

    def buckets(self, resource_id: str | None) -> list[str]:
        s3 = self.aws_client("s3")
        if resource_id:
            name = bucket_name(resource_id)
            with _aws_errors("S3"):
                s3.head_bucket(Bucket=name)
            return [f"s3://{name}"]
        with _aws_errors("S3"):
            return [f"s3://{bucket['Name']}" for bucket in s3.list_buckets().get("Buckets", [])]

    def registry_uri(self) -> str:
        with _aws_errors("STS"):
            account = self.aws_client("sts").get_caller_identity()["Account"]
        return f"{account}.dkr.ecr.{self.config['region']}.amazonaws.com"

    @staticmethod
    def _only(ids: list[str], resource_id: str | None, what: str) -> list[str]:
        if resource_id is None:
            return ids
        if resource_id not in ids:
            raise ConnectorError(f"The {what} '{resource_id}' is not reachable with these credentials.")
        return [resource_id]

    # --- client ----------------------------------------------------------------------------
    def client(self, resource_type, resource_id) -> Credentials:
        """AWS resources get temporary STS credentials (`sts-token`, with `expires_at`) for the
        temporary methods and the configured ones otherwise; the ECR registry gets Docker
        credentials from an ECR authorization token."""
        if resource_type == "docker-registry":
            return self.ecr_credentials(resource_id)
        if resource_type == "kubernetes-cluster":
            raise ConnectorConfigError(
                "This server does not issue EKS cluster credentials; use the aws-generic resource."
            )
        if self.method.auth_method not in TEMPORARY:
            return super().client(resource_type, resource_id)
        issued = self.temporary_credentials()
        expires_at = issued.pop("expires_at")
        configuration = {**issued, "region": self.config["region"]}
        if self.config.get("endpoint_url"):
            configuration["endpoint_url"] = self.config["endpoint_url"]
        return Credentials(
            connector_type=self.connector_type,
            auth_method="sts-token",
            resource_type=resource_type,
            resource_id=resource_id,
            configuration=configuration,
            secret_names=frozenset(f.name for f in self.auth_method_spec("sts-token").fields if f.secret),
            expires_at=expires_at,
        )

    def ecr_credentials(self, resource_id) -> Credentials:
        registry = resource_id or self.registry_uri()
        with _aws_errors("ECR"):
            data = self.aws_client("ecr").get_authorization_token()["authorizationData"][0]
        username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        return Credentials(
            connector_type=DockerConnector.connector_type,
            auth_method="password",
            resource_type="docker-registry",
            resource_id=registry,
            configuration={"username": username, "password": password, "registry": registry},
            secret_names=frozenset({"username", "password"}),
            expires_at=data.get("expiresAt") or dt.datetime.now(dt.UTC) + dt.timedelta(hours=12),
        )


def aws_client(service: str, region: str, endpoint_url: str | None = None, **credentials):
    """A boto3 client of `service` (at `endpoint_url`, for S3-compatible stores), with short timeouts."""
    session = boto3.session.Session(region_name=region, **credentials)
    return session.client(service, endpoint_url=endpoint_url or None, config=TIMEOUTS)


def bucket_name(resource_id: str) -> str:
    """`s3://name/...`, `arn:aws:s3:::name` or `name` → `name`."""
    name = re.sub(r"^(s3://|arn:aws:s3:::)", "", resource_id).split("/", 1)[0]
    if not name:
        raise ConnectorConfigError(f"'{resource_id}' is not an S3 bucket.")
    return name


class _aws_errors:
    """Turns boto3 failures into ConnectorError with AWS's own message (never credentials)."""

    def __init__(self, service: str):
        self.service = service

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            message = f"{self.service} refused the request: {error.get('Code', 'error')}: {error.get('Message', '')}"
            raise ConnectorError(message.rstrip(": ")) from None
        if isinstance(exc, BotoCoreError | ValueError):
            raise ConnectorError(f"{self.service} could not be reached: {exc}") from None
        return False
