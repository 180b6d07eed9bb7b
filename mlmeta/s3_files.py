"""Reading artifact files from S3 artifact stores (ZenML's `s3` flavor) for visualizations and
downloads, with boto3.

Credentials come from the store's service connector (an `aws` connector, whose temporary
methods yield short-lived STS credentials) or else from the store's own `key`/`secret`/`token`
settings, which may be `{{secret_name.key}}` references, resolved by secrets_app.references for
the reader (or, for a download token, which names no user, the store's creator) and only if
the store's creator may read the secret too, so nobody can lend themselves someone else's keys
by naming their secret. The server only reads below the store's `path` (s3://bucket[/prefix]).
"""

import tempfile
import zipfile

from botocore.exceptions import BotoCoreError, ClientError

from core.api.exceptions import EntityNotFound, IllegalOperationError, ZenError
from secrets_app import connectors as registry
from secrets_app import references
from secrets_app.connectors import ConnectorConfigError, ConnectorError
from secrets_app.connectors.aws import AWSConnector, aws_client
from tenants.models import User

S3_FLAVOR = "s3"
MAX_READ_BYTES = 50 * 1024 * 1024


def is_s3(store) -> bool:
    return store is not None and store.flavor_name == S3_FLAVOR


def location(uri: str, store) -> tuple[str, str]:
    """(bucket, key) of `uri`, which must lie inside the store's path."""
    root = str((store.configuration or {}).get("path") or "").rstrip("/")
    if not root.startswith("s3://") or not (uri == root or uri.startswith(root + "/")):
        raise IllegalOperationError(f"`{uri}` is not inside the S3 artifact store `{root or store.name}`.")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def s3_client(store, reader):
    """A boto3 S3 client with the store's credentials (read on behalf of `reader`)."""
    connector = store.connector
    try:
        if connector is not None:
            kind = registry.connector_type(connector.connector_type)
            if not issubclass(kind, AWSConnector):
                raise ZenError(f"The connector `{connector.name}` is not an AWS connector; it cannot read S3.")
            return connector.instance(reader).aws_client("s3")
        return _configured_client(store, reader)
    except (ConnectorError, ConnectorConfigError) as exc:
        raise ZenError(f"Cannot access the S3 artifact store `{store.name}`: {exc}", "RuntimeError", 502) from None


def _configured_client(store, reader):
    config = store.configuration or {}
    kwargs = dict(config.get("client_kwargs") or {})
    names = {"aws_access_key_id": "key", "aws_secret_access_key": "secret", "aws_session_token": "token"}
    credentials = resolved_settings(store, reader, {name: config.get(setting) for name, setting in names.items()})
    region = kwargs.get("region_name") or "us-east-1"
    return aws_client("s3", region, kwargs.get("endpoint_url"), **{k: v for k, v in credentials.items() if v})


def resolved_settings(store, reader, settings: dict) -> dict:
    """`settings` with their secret references resolved (see the module docstring)."""
    if not any(references.parse(value) for value in settings.values()):
        return settings
    if store.user is None:
        raise IllegalOperationError(f"The artifact store `{store.name}` has no creator to vouch for its references.")
    user = reader if isinstance(reader, User) else store.user
    return references.resolve_references(settings, user, store.tenant, owner=store.user)


def read_bytes(uri: str, store, reader) -> bytes:
    bucket, key = location(uri, store)
    client = s3_client(store, reader)
    with _s3_errors(uri):
        head = client.head_object(Bucket=bucket, Key=key)
        if head["ContentLength"] > MAX_READ_BYTES:
            raise ZenError(f"`{uri}` is too large to serve ({head['ContentLength']} bytes).")
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def zip_objects(uri: str, store, reader):
    """A temporary zip of the object at `uri`, or of every object below it."""
    bucket, key = location(uri, store)
    client = s3_client(store, reader)
    archive = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, which closes it
    with _s3_errors(uri), zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        keys = _keys_below(client, bucket, key)
        if not keys:
            raise EntityNotFound(f"No file or directory at `{uri}`.")
        total = 0
        for name in keys:
            body = client.get_object(Bucket=bucket, Key=name)["Body"].read()
            total += len(body)
            if total > MAX_READ_BYTES:
                raise ZenError(f"`{uri}` is too large to download through the server.")
            zipped.writestr(name[len(key) :].lstrip("/") or name.rsplit("/", 1)[-1], body)
    archive.seek(0)
    return archive


def _keys_below(client, bucket: str, key: str) -> list[str]:
    prefix = key.rstrip("/") + "/" if key else ""
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    if not keys and key:
        try:
            client.head_object(Bucket=bucket, Key=key)
            keys = [key]
        except ClientError:
            pass
    return sorted(keys)


class _s3_errors:
    def __init__(self, uri: str):
        self.uri = uri

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
                raise EntityNotFound(f"No file or directory at `{self.uri}`.") from None
            raise ZenError(f"S3 refused to read `{self.uri}`: {code}", "RuntimeError", 502) from None
        if isinstance(exc, BotoCoreError):
            raise ZenError(f"S3 could not be reached for `{self.uri}`: {exc}", "RuntimeError", 502) from None
        return False
