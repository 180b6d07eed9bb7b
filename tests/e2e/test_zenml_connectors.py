"""The real client's `zenml service-connector` commands against MLMeta: the types the server
implements (aws, kubernetes and generic are server-side only for this client, docker both),
register with server-side verification against moto's standalone S3/STS on loopback, list,
describe, verify, list-resources and delete."""

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.e2e.conftest import free_port

SECRET_KEY = "e2e-connector-secret-Zq81"


@pytest.fixture(scope="module")
def moto_url():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def bucket(moto_url) -> str:
    s3 = boto3.client(
        "s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    s3.create_bucket(Bucket="e2e-connector-bucket")
    return "e2e-connector-bucket"


@pytest.fixture(scope="module")
def zenml(new_zenml_client):
    return new_zenml_client()


def test_list_types_shows_the_servers_types(zenml):
    listed = zenml.cli("service-connector", "list-types").ok().output
    for name in ("AWS Service Connector", "Kubernetes Service Connector", "Docker Service Connector", "Generic"):
        assert name in listed, listed
    described = zenml.cli("service-connector", "describe-type", "aws").ok().output
    assert "iam-role" in described and "s3-bucket" in described


def test_register_verify_and_delete_an_aws_connector(zenml, moto_url, bucket):
    registered = zenml.cli(
        "service-connector",
        "register",
        "e2e-aws",
        "--type",
        "aws",
        "--auth-method",
        "secret-key",
        "--resource-type",
        "s3-bucket",
        "--aws_access_key_id=AKIAE2E",
        f"--aws_secret_access_key={SECRET_KEY}",
        "--region=us-east-1",
        f"--endpoint_url={moto_url}",
    ).ok()
    assert f"s3://{bucket}" in registered.output, registered.describe()

    listed = zenml.cli("service-connector", "list").ok().output
    assert "e2e-aws" in listed and SECRET_KEY not in listed
    described = zenml.cli("service-connector", "describe", "e2e-aws").ok().output
    assert "secret-key" in described and SECRET_KEY not in described
    shown = zenml.cli("service-connector", "describe", "e2e-aws", "-x").ok().output
    assert SECRET_KEY in shown  # the creator may read the secret values, as on ZenML

    verified = zenml.cli("service-connector", "verify", "e2e-aws").ok().output
    assert f"s3://{bucket}" in verified
    resources = zenml.cli("service-connector", "list-resources", "--resource-type", "s3-bucket").ok().output
    assert "e2e-aws" in resources and f"s3://{bucket}" in resources

    zenml.cli("service-connector", "delete", "e2e-aws").ok()
    assert "e2e-aws" not in zenml.cli("service-connector", "list").ok().output


def test_register_with_bad_credentials_fails_with_the_servers_error(zenml):
    refused = zenml.cli(
        "service-connector",
        "register",
        "e2e-unreachable",
        "--type",
        "aws",
        "--auth-method",
        "secret-key",
        "--aws_access_key_id=AKIAE2E",
        "--aws_secret_access_key=nope",
        "--region=us-east-1",
        "--endpoint_url=http://127.0.0.1:9",
    )
    assert refused.returncode != 0 and "127.0.0.1:9" in refused.output, refused.describe()
    assert "e2e-unreachable" not in zenml.cli("service-connector", "list").ok().output
