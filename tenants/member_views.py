"""The tenant's member list with each member's roles: assigned directly (organization, tenant,
project or single-resource scope) or through a team."""

from django.db.models import Q
from django.views.generic import ListView

from core.paginators import CappedCountPaginator
from tenants.models import Membership, RoleAssignment
from tenants.views import TenantViewMixin


class MemberListView(TenantViewMixin, ListView):
    template_name = "tenants/member_list.html"
    paginate_by = 50
    paginator_class = CappedCountPaginator
    context_object_name = "memberships"

    def get_queryset(self):
        members = self.restrict(Membership).select_related("member")
        if name := self.request.GET.get("name", "").strip():
            members = members.filter(Q(member__username__icontains=name) | Q(member__email__icontains=name))
        return members.order_by("member__username")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = list(context["memberships"])
        roles = self.roles_of([m.member_id for m in page])
        for membership in page:
            membership.roles = roles.get(membership.member_id, [])
        return context

    def roles_of(self, user_ids) -> dict:
        """{user id: [(role name, scope label, team name or "")]} for one page, in one query."""
        tenant = self.request.tenant
        here = Q(tenant=tenant) | Q(tenant__isnull=True, organization_id=tenant.organization_id)
        subjects = Q(user_id__in=user_ids) | Q(team__members__in=user_ids)
        assignments = (
            RoleAssignment.objects.restrict(self.request.user, "read")
            .filter(here, subjects)
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
