"""The tenant's members: the list with each member's roles (assigned directly at organization,
tenant, project or single-resource scope, or through a team), inviting people by e-mail, and a
member's page where their roles here are assigned and revoked, or they are removed. Every change
goes through tenants.access."""

from django.contrib import messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import ListView, TemplateView

from core.paginators import CappedCountPaginator
from tenants import access, rbac
from tenants.manage_base import ManagePage
from tenants.manage_forms import InviteForm, RoleScopeForm
from tenants.models import Invitation, Membership, Project, RoleAssignment


class MemberPage(ManagePage):
    def projects(self):
        return self.restrict(Project).order_by("name")[:200]

    def may_assign(self) -> bool:
        return self.may("create", "member") or self.may("update", "member")

    def may_revoke(self) -> bool:
        return self.may("update", "member") or self.may("delete", "member")

    def pending_invitations(self):
        """Open invitations into this tenant (or its projects) the user may read: any of them with
        `invitation:read` organization-wide; those into this tenant only with it in this tenant."""
        tenant = self.request.tenant
        readable = Q(pk__in=Invitation.objects.restrict(self.request.user, "read").values("pk"))
        if rbac.can(self.request.user, "read", "invitation", tenant=tenant):
            readable |= Q(pk__in=access.invitations_into_only(tenant).values("pk"))
        into_here = RoleAssignment.objects.filter(tenant=tenant, invitation__isnull=False)
        invitations = Invitation.objects.filter(
            readable,
            organization=self.organization,
            accepted__isnull=True,
            expires__gt=timezone.now(),
            pk__in=into_here.values("invitation_id"),
        )
        return invitations.select_related("invited_by").prefetch_related("role_assignments__role")

    def membership(self, pk) -> Membership:
        membership = self.restrict(Membership).select_related("member").filter(member_id=pk).first()
        if membership is None:
            raise Http404("This person is not a member of this tenant, or you may not see them.")
        return membership


class MemberListView(MemberPage, ListView):
    template_name = "tenants/member_list.html"
    paginate_by = 50
    paginator_class = CappedCountPaginator
    context_object_name = "memberships"

    def get_queryset(self):
        members = self.restrict(Membership).select_related("member")
        if name := self.request.GET.get("name", "").strip():
            members = members.filter(Q(member__username__icontains=name) | Q(member__email__icontains=name))
        return members.order_by("member__username")

    def get_context_data(self, invite_form=None, **kwargs):
        context = super().get_context_data(**kwargs)
        page = list(context["memberships"])
        roles = self.roles_of([m.member_id for m in page])
        for membership in page:
            membership.roles = roles.get(membership.member_id, [])
        if self.may("create", "invitation"):
            context["invite_form"] = invite_form or self.invite_form(initial={"role": self.default_role()})
        context["invitations"] = self.pending_invitations().order_by("-created")[:50]
        context["may_cancel"] = self.may("delete", "invitation")
        return context

    def invite_form(self, **kwargs) -> InviteForm:
        return InviteForm(tenant=self.request.tenant, projects=self.projects(), **kwargs)

    @staticmethod
    def default_role():
        return access.find_role(access.DEFAULT_TENANT_ROLE).pk

    def post(self, request):
        """Invite someone: the link is shown on this answer only (it is not stored)."""
        self.require(self.may("create", "invitation"), "You may not invite people to this tenant.")
        form = self.invite_form(data=request.POST)
        self.object_list = self.get_queryset()
        if not form.is_valid():
            return self.page(400, invite_form=form)
        spec = {"role": form.cleaned_data["role"], **form.scope_kwargs()}
        result, status = self.attempt(
            form,
            access.invite,
            self.organization,
            form.cleaned_data["email"],
            roles=[spec],
            days=form.cleaned_data["days"],
            by=request.user,
            request=request,
        )
        if result is None:
            return self.page(status, invite_form=form)
        invitation, token = result
        link = request.build_absolute_uri(reverse("invitation", args=[token]))
        return self.page(no_store=True, invitation=invitation, invitation_link=link)

    def roles_of(self, user_ids) -> dict:
        """{user id: [(role name, scope label, team name or "")]} for one page, in one query."""
        subjects = Q(user_id__in=user_ids) | Q(team__members__in=user_ids)
        assignments = (
            RoleAssignment.objects.restrict(self.request.user, "read")
            .filter(self.here(), subjects)
            .select_related("role", "project", "tenant", "organization", "team")
            .prefetch_related("team__members")
            .distinct()
        )
        wanted, roles = set(user_ids), {}
        for assignment in assignments:
            holders = [assignment.user_id] if assignment.user_id else [u.pk for u in assignment.team.members.all()]
            team = assignment.team.name if assignment.team_id else ""
            for user_id in set(holders) & wanted:
                roles.setdefault(user_id, []).append((assignment.role.name, assignment.scope_label, team))
        return roles


class InvitationCancelView(MemberPage, TemplateView):
    """Withdraw a pending invitation into this tenant (access.delete_invitation)."""

    http_method_names = ["post"]

    def post(self, request, pk):
        self.require(self.may("delete", "invitation"), "You may not withdraw invitations.")
        invitation = self.get_or_404(self.pending_invitations(), pk)
        access.delete_invitation(invitation, by=request.user, request=request)
        messages.success(request, f"The invitation for {invitation.email} is withdrawn.")
        return redirect("member-list")


class MemberDetailView(MemberPage, TemplateView):
    """One member's roles in this tenant: direct ones (revocable) and their teams'; assigning a
    role at tenant, project or organization scope."""

    template_name = "tenants/member_detail.html"

    def get(self, request, pk):
        return self.page(membership=self.membership(pk))

    def post(self, request, pk):
        self.require(self.may_assign(), "You may not assign roles in this tenant.")
        membership = self.membership(pk)
        form = self.form(data=request.POST)
        if not form.is_valid():
            return self.page(400, membership=membership, form=form)
        role = form.cleaned_data["role"]
        kwargs = {"by": request.user, "request": request, "user": membership.member, **form.scope_kwargs()}
        result, status = self.attempt(form, access.grant, role, **kwargs)
        if result is None:
            return self.page(status, membership=membership, form=form)
        messages.success(request, f"{membership.member} now holds {role.name}.")
        return redirect("member-detail", pk=pk)

    def form(self, **kwargs) -> RoleScopeForm:
        return RoleScopeForm(tenant=self.request.tenant, projects=self.projects(), **kwargs)

    def get_context_data(self, membership, form=None, **kwargs):
        context = super().get_context_data(**kwargs)
        assignments = (
            RoleAssignment.objects.restrict(self.request.user, "read")
            .filter(self.here())
            .select_related("role", "project", "tenant", "organization", "team")
            .order_by("role__level", "role__name")
        )
        context.update(
            membership=membership,
            member=membership.member,
            direct=assignments.filter(user=membership.member),
            through_teams=assignments.filter(team__members=membership.member),
            may_revoke=self.may_revoke(),
            may_remove=self.may("delete", "member"),
        )
        if self.may_assign():
            context["form"] = form or self.form(initial={"role": MemberListView.default_role()})
        return context


class AssignmentRevokeView(MemberPage, TemplateView):
    """Take back one role a member holds directly here (access.revoke_assignment)."""

    http_method_names = ["post"]

    def post(self, request, pk, assignment_pk):
        self.require(self.may_revoke(), "You may not revoke roles in this tenant.")
        assignments = RoleAssignment.objects.restrict(request.user, "read").filter(self.here(), user_id=pk)
        assignment = self.get_or_404(assignments.select_related("role", "user"), assignment_pk)
        access.revoke_assignment(assignment, by=request.user, request=request)
        messages.success(request, f"Revoked {assignment.role.name} from {assignment.user}.")
        return redirect("member-detail", pk=pk)


class MemberRemoveView(MemberPage, TemplateView):
    """Remove a member and every role they hold in this tenant (access.remove_member)."""

    http_method_names = ["post"]

    def post(self, request, pk):
        self.require(self.may("delete", "member"), "You may not remove members of this tenant.")
        membership = self.membership(pk)
        access.remove_member(request.tenant, membership.member, by=request.user, request=request)
        messages.success(request, f"{membership.member} is no longer a member of {request.tenant.name}.")
        return redirect("member-list")
