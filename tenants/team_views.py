"""Teams of the tenant's organization: the list (with a create form), and a team's page where it
is renamed or deleted, members are added and removed, and its roles that apply in this tenant
are assigned and revoked. Every change goes through tenants.access."""

from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.views.generic import TemplateView

from tenants import access
from tenants.manage_base import ManagePage
from tenants.manage_forms import RoleScopeForm, TeamForm, TeamMemberForm
from tenants.models import Membership, Project, RoleAssignment, Team, User


class TeamPage(ManagePage):
    def teams(self, action: str = "read"):
        return Team.objects.restrict(self.request.user, action).filter(organization=self.organization)

    def team(self, pk) -> Team:
        return self.get_or_404(self.teams(), pk)


class TeamListView(TeamPage, TemplateView):
    template_name = "tenants/team_list.html"

    def get_context_data(self, form=None, **kwargs):
        context = super().get_context_data(**kwargs)
        teams = self.teams().annotate(member_count=Count("members", distinct=True)).order_by("name")
        context["teams"] = teams[:500]
        if self.may_org("create", "team"):
            context["form"] = form or TeamForm(organization=self.organization)
        return context

    def post(self, request):
        self.require(self.may_org("create", "team"), "You may not create teams in this organization.")
        form = TeamForm(request.POST, organization=self.organization)
        if not form.is_valid():
            return self.page(400, form=form)
        data = form.cleaned_data
        kwargs = {"description": data["description"], "by": request.user, "request": request}
        team, status = self.attempt(form, access.create_team, self.organization, data["name"], **kwargs)
        if team is None:
            return self.page(status, form=form)
        messages.success(request, f"Team {team.name} created.")
        return redirect("team-detail", pk=team.pk)


class TeamDetailView(TeamPage, TemplateView):
    """GET: the team. POST: rename it or change its description."""

    template_name = "tenants/team_detail.html"

    def get(self, request, pk):
        return self.page(team=self.team(pk))

    def post(self, request, pk):
        self.require(self.may_org("update", "team"), "You may not change teams.")
        team = self.team(pk)
        # A second copy of the team for the form, so a rejected name does not rename the page around it.
        form = TeamForm(request.POST, instance=self.team(pk), organization=self.organization)
        if not form.is_valid():
            return self.page(400, team=team, edit_form=form)
        data = form.cleaned_data
        kwargs = {"name": data["name"], "description": data["description"], "by": request.user, "request": request}
        updated, status = self.attempt(form, access.update_team, team, **kwargs)
        if updated is None:
            return self.page(status, team=self.team(pk), edit_form=form)
        messages.success(request, f"Team {updated.name} saved.")
        return redirect("team-detail", pk=pk)

    def candidates(self, team):
        """Who may be added: this tenant's members the user sees and the organization's service
        accounts, less the team's members."""
        members = self.restrict(Membership).values("member_id")
        accounts = User.objects.restrict(self.request.user, "read", "service_account").filter(
            is_service_account=True, organization=self.organization
        )
        candidates = User.objects.filter(Q(pk__in=members) | Q(pk__in=accounts.values("pk")))
        return candidates.exclude(pk__in=team.members.values("pk")).order_by("username")

    def role_form(self, **kwargs) -> RoleScopeForm:
        projects = self.restrict(Project).order_by("name")[:200]
        return RoleScopeForm(tenant=self.request.tenant, projects=projects, **kwargs)

    def get_context_data(self, team, edit_form=None, member_form=None, role_form=None, **kwargs):
        context = super().get_context_data(**kwargs)
        may_update = self.may_org("update", "team")
        may_assign = self.may("create", "member") or self.may("update", "member")
        context.update(
            team=team,
            members=team.members.order_by("username"),
            assignments=RoleAssignment.objects.restrict(self.request.user, "read")
            .filter(self.here(), team=team)
            .select_related("role", "project", "tenant", "organization"),
            may_update=may_update,
            may_delete=self.may_org("delete", "team"),
            may_revoke=self.may("update", "member") or self.may("delete", "member"),
        )
        if may_update:
            context["edit_form"] = edit_form or TeamForm(instance=team, organization=self.organization)
            context["member_form"] = member_form or TeamMemberForm(candidates=self.candidates(team))
        if may_assign:
            context["role_form"] = role_form or self.role_form()
        return context


class TeamDeleteView(TeamPage, TemplateView):
    http_method_names = ["post"]

    def post(self, request, pk):
        self.require(self.may_org("delete", "team"), "You may not delete teams.")
        team = self.team(pk)
        access.delete_team(team, by=request.user, request=request)
        messages.success(request, f"Team {team.name} deleted.")
        return redirect("team-list")


class TeamMemberAddView(TeamDetailView):
    http_method_names = ["post"]

    def post(self, request, pk):
        self.require(self.may_org("update", "team"), "You may not change teams.")
        team = self.team(pk)
        form = TeamMemberForm(request.POST, candidates=self.candidates(team))
        if not form.is_valid():
            return self.page(400, team=team, member_form=form)
        user = form.cleaned_data["user"]
        _, status = self.attempt(form, access.add_team_member, team, user, by=request.user, request=request)
        if status:
            return self.page(status, team=team, member_form=form)
        messages.success(request, f"{user} joined {team.name}.")
        return redirect("team-detail", pk=pk)


class TeamMemberRemoveView(TeamPage, TemplateView):
    http_method_names = ["post"]

    def post(self, request, pk, user_pk):
        self.require(self.may_org("update", "team"), "You may not change teams.")
        team = self.team(pk)
        user = self.get_or_404(team.members.all(), user_pk)
        access.remove_team_member(team, user, by=request.user, request=request)
        messages.success(request, f"{user} left {team.name}.")
        return redirect("team-detail", pk=pk)


class TeamRoleAssignView(TeamDetailView):
    """Give the team a role at organization, tenant or project scope (access.grant)."""

    http_method_names = ["post"]

    def post(self, request, pk):
        self.require(
            self.may("create", "member") or self.may("update", "member"), "You may not assign roles in this tenant."
        )
        team = self.team(pk)
        form = self.role_form(data=request.POST)
        if not form.is_valid():
            return self.page(400, team=team, role_form=form)
        role = form.cleaned_data["role"]
        kwargs = {"by": request.user, "request": request, "team": team, **form.scope_kwargs()}
        result, status = self.attempt(form, access.grant, role, **kwargs)
        if result is None:
            return self.page(status, team=team, role_form=form)
        messages.success(request, f"Team {team.name} now holds {role.name}.")
        return redirect("team-detail", pk=pk)


class TeamRoleRevokeView(TeamPage, TemplateView):
    http_method_names = ["post"]

    def post(self, request, pk, assignment_pk):
        self.require(
            self.may("update", "member") or self.may("delete", "member"), "You may not revoke roles in this tenant."
        )
        team = self.team(pk)
        assignments = RoleAssignment.objects.restrict(request.user, "read").filter(self.here(), team=team)
        assignments = assignments.select_related("role", "organization", "tenant", "project")
        assignment = self.get_or_404(assignments, assignment_pk)
        access.revoke_assignment(assignment, by=request.user, request=request)
        messages.success(request, f"Revoked {assignment.role.name} from team {team.name}.")
        return redirect("team-detail", pk=pk)
