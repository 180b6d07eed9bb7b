from core.api.envelope import OwnedEnvelope
from tenants.api.envelopes import nested_user


class SecretEnvelope(OwnedEnvelope):
    """Secrets render without values (`values: {}`); the views that may show them fill them in."""

    project_scoped = False

    def body(self, secret) -> dict:
        return {**super().body(secret), "private": secret.private, "values": {}}

    def resources(self, secret) -> dict:
        return {"user": nested_user(secret.user)}

    @classmethod
    def prefetch(cls, queryset, hydrate):
        return queryset.select_related("user")
