"""Secret references in stack component configurations: a value `{{secret_name.key}}` (ZenML's
syntax, the whole string) stands for that key of that secret.

The server resolves them where it uses a configuration itself (reading an S3 artifact store for
visualizations and downloads, mlmeta.s3_files), and only for a caller allowed to read the
secret's values (`read_secret_value`): the API never returns a resolved configuration, as on
ZenML, whose client resolves references itself through `GET /secrets`. A private secret
resolves only for its owner; the names of secrets the caller cannot see are answered as
unknown. With `owner` (the component's creator), they must be allowed too, so that nobody lends
a component someone else's keys. Each resolved value is an audit event naming the key.
"""

import re

from django.db.models import Q

from core.api.exceptions import EntityNotFound, IllegalOperationError
from secrets_app.models import Secret, ServiceConnector
from tenants import audit, rbac

REFERENCE = re.compile(r"\{\{\s*(\S+?)\.(\S+)\s*\}\}")  # zenml.utils.secret_utils, matched in full


def parse(value) -> tuple[str, str] | None:
    """(secret name, key) if `value` is a reference, else None."""
    match = REFERENCE.fullmatch(value) if isinstance(value, str) else None
    return (match[1], match[2]) if match else None


def resolve_references(config, user, tenant, *, owner=None):
    """`config` (a dict, list or value) with every reference replaced by its value for `user`;
    raises a 404 for an unknown secret or key and a 403 when `user` (or `owner`) may not read it."""
    if isinstance(config, dict):
        return {name: resolve_references(value, user, tenant, owner=owner) for name, value in config.items()}
    if isinstance(config, list):
        return [resolve_references(value, user, tenant, owner=owner) for value in config]
    reference = parse(config)
    if reference is None:
        return config
    return resolve(*reference, user, tenant, owner=owner)


def resolve(name: str, key: str, user, tenant, *, owner=None) -> str:
    secret = visible(name, user, tenant)
    for reader in (user, owner):
        if reader is not None and not rbac.check(reader, "read_secret_value", secret):
            who = "you" if reader == user else f"the component's creator ({reader})"
            raise IllegalOperationError(f"The secret `{name}` is referenced, but {who} may not read its values.")
    if owner is not None and secret.private and secret.user_id != owner.pk:
        raise IllegalOperationError(f"The secret `{name}` is private to {user}; the component's creator cannot use it.")
    values = secret.read_values(user)
    if key not in values:
        raise EntityNotFound(f"The secret `{name}` has no key `{key}`.")
    audit.record("read_secret_value", actor=user, obj=secret, detail=f"key {key} (a configuration's reference)")
    return values[key]


def visible(name: str, user, tenant) -> Secret:
    """The secret `name` of `tenant` as `user` sees it: public, or private and theirs (theirs
    first, as the zenml client looks them up); never a connector's internal secret."""
    internal = ServiceConnector.objects.filter(tenant=tenant, secret__isnull=False).values("secret_id")
    candidates = (
        Secret.objects.filter(tenant=tenant, name=name)
        .filter(Q(private=False) | Q(user=user))
        .exclude(pk__in=internal)
        .order_by("-private")
    )
    secret = candidates.first()
    if secret is None or not rbac.check(user, "read", secret):
        raise EntityNotFound(f"The referenced secret `{name}` does not exist or is not visible to you.")
    return secret
