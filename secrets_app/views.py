"""The dashboard's secrets page: the tenant's secrets with their keys and masked values, and a
"reveal" button per key that shows one value once (POST, CSRF) to a user with
`read_secret_value` on it, writing an audit event that names the key, never the value."""

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.views.generic import TemplateView

from core.signals import access_denied
from secrets_app.backends import BackendUnavailable
from secrets_app.models import Secret, ServiceConnector
from tenants import audit, rbac
from tenants.views import TenantViewMixin

MASK = "••••••••"


class SecretListView(TenantViewMixin, TemplateView):
    template_name = "secrets_app/secret_list.html"

    def secrets(self):
        """What the API lists to this user: public secrets and their own private ones, without
        the connectors' internal secrets."""
        internal = ServiceConnector.objects.filter(tenant=self.request.tenant, secret__isnull=False).values("secret_id")
        mine_or_public = Q(private=False) | Q(user=self.request.user)
        return self.restrict(Secret).filter(mine_or_public).exclude(pk__in=internal).select_related("user")

    def get_context_data(self, revealed=None, **kwargs):
        context = super().get_context_data(**kwargs)
        secrets = list(self.secrets().order_by("name"))
        readable = rbac.allowed_ids(self.request.user, "read_secret_value", Secret, [s.pk for s in secrets])
        context["rows"] = [
            {"secret": s, "readable": s.pk in readable, "keys": [(key, self.shown(s, key, revealed)) for key in s.keys]}
            for s in secrets
        ]
        context["mask"] = MASK
        return context

    @staticmethod
    def shown(secret, key, revealed) -> str | None:
        """The value of `key` if it is the one just revealed, else None (masked)."""
        if revealed and revealed[0] == secret.pk and revealed[1] == key:
            return revealed[2]
        return None

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        response["Cache-Control"] = "no-store"  # a revealed value must not stay in a cache
        return response


class SecretRevealView(SecretListView):
    """POST key=<name>: the page again, with that one value shown."""

    http_method_names = ["post"]

    def post(self, request, pk):
        secret = self.secrets().filter(pk=pk).first()
        if secret is None:
            raise Http404("No such secret.")
        key = request.POST.get("key", "")
        if not rbac.check(request.user, "read_secret_value", secret):
            access_denied.send(sender=Secret, request=request, action="read_secret_value", resource_id=secret.pk)
            raise PermissionDenied("You may not read this secret's values.")
        if key not in secret.keys:
            raise Http404("The secret has no such key.")
        try:
            values = secret.read_values(request.user)
        except BackendUnavailable as exc:
            return self.render_to_response(self.get_context_data(problem=str(exc)), status=503)
        if key not in values:
            raise Http404("The secret has no such key.")
        audit.record("read_secret_value", request=request, obj=secret, detail=f"key {key}")
        return self.render_to_response(self.get_context_data(revealed=(secret.pk, key, values[key])))
