"""The page an invitation link opens: a new member picks a username and password (or, logged
in already, accepts into their account); the invitation's roles and teams become theirs."""

from django.contrib.auth import login
from django.contrib.auth.forms import BaseUserCreationForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views import View

from tenants import access, audit
from tenants.models import Tenant, User


class InvitationSignupForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("username", "full_name")


def _landing(invitation) -> str:
    """The dashboard of the first tenant the invitation gives access to, else the root."""
    tenant_ids = [a.tenant_id for a in invitation.role_assignments.all() if a.tenant_id]
    tenant = Tenant.objects.filter(pk__in=tenant_ids, active=True).order_by("slug").first()
    return tenant.get_absolute_url() if tenant else "/"


class InvitationView(View):
    template_name = "tenants/invitation.html"

    def dispatch(self, request, token, *args, **kwargs):
        try:
            self.invitation = access.find_invitation(token)
        except ValidationError as exc:
            return TemplateResponse(request, self.template_name, {"refusal": exc.messages[0]}, status=404)
        self.token = token
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        return self.render(InvitationSignupForm())

    def post(self, request):
        if request.user.is_authenticated and request.POST.get("accept_as_me"):
            return self.accept(lambda: request.user)
        form = InvitationSignupForm(request.POST)
        if not form.is_valid():
            return self.render(form, status=400)
        return self.accept(lambda: self.new_user(form))

    def new_user(self, form) -> User:
        user = form.save(commit=False)
        user.email = self.invitation.email
        user.save()
        audit.record("create", request=self.request, actor=user, obj=user, changes={"username": user.username})
        return user

    def accept(self, get_user):
        """Make (or take) the user and accept, together: a link used up meanwhile leaves no account."""
        landing = _landing(self.invitation)
        try:
            with transaction.atomic():
                user = get_user()
                access.accept_invitation(self.token, user, request=self.request)
        except ValidationError as exc:
            return TemplateResponse(self.request, self.template_name, {"refusal": exc.messages[0]}, status=409)
        if not self.request.user.is_authenticated:
            login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(landing)

    def render(self, form, status=200):
        context = {"invitation": self.invitation, "form": form}
        return TemplateResponse(self.request, self.template_name, context, status=status)
