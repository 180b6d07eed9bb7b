from django.contrib.auth import views as auth_views
from django.urls import include, path

from tenants import (
    invitation_views,
    member_views,
    oauth,
    role_views,
    service_account_views,
    settings_views,
    team_views,
    views,
)
from tenants.forms import LoginForm

urlpatterns = [
    path(
        "login",
        oauth.LoginView.as_view(template_name="tenants/login.html", authentication_form=LoginForm),
        name="login",
    ),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path("sso/", include("tenants.sso.urls")),
    path("devices/verify", views.DeviceVerifyView.as_view(), name="device-verify"),
    path("audit/", views.AuditEventListView.as_view(), name="audit-list"),
    path("members/", member_views.MemberListView.as_view(), name="member-list"),
    path(
        "members/invitations/<uuid:pk>/withdraw",
        member_views.InvitationCancelView.as_view(),
        name="invitation-withdraw",
    ),
    path("members/<uuid:pk>/", member_views.MemberDetailView.as_view(), name="member-detail"),
    path("members/<uuid:pk>/remove", member_views.MemberRemoveView.as_view(), name="member-remove"),
    path(
        "members/<uuid:pk>/roles/<uuid:assignment_pk>/revoke",
        member_views.AssignmentRevokeView.as_view(),
        name="member-revoke",
    ),
    path("teams/", team_views.TeamListView.as_view(), name="team-list"),
    path("teams/<uuid:pk>/", team_views.TeamDetailView.as_view(), name="team-detail"),
    path("teams/<uuid:pk>/delete", team_views.TeamDeleteView.as_view(), name="team-delete"),
    path("teams/<uuid:pk>/members", team_views.TeamMemberAddView.as_view(), name="team-member-add"),
    path(
        "teams/<uuid:pk>/members/<uuid:user_pk>/remove",
        team_views.TeamMemberRemoveView.as_view(),
        name="team-member-remove",
    ),
    path("teams/<uuid:pk>/roles", team_views.TeamRoleAssignView.as_view(), name="team-role-assign"),
    path(
        "teams/<uuid:pk>/roles/<uuid:assignment_pk>/revoke",
        team_views.TeamRoleRevokeView.as_view(),
        name="team-role-revoke",
    ),
    path("roles/", role_views.RoleListView.as_view(), name="role-list"),
    path("roles/new", role_views.RoleCreateView.as_view(), name="role-create"),
    path("roles/<uuid:pk>/", role_views.RoleDetailView.as_view(), name="role-detail"),
    path("roles/<uuid:pk>/delete", role_views.RoleDeleteView.as_view(), name="role-delete"),
    path("service-accounts/", service_account_views.ServiceAccountListView.as_view(), name="service-account-list"),
    path(
        "service-accounts/<uuid:pk>/",
        service_account_views.ServiceAccountDetailView.as_view(),
        name="service-account-detail",
    ),
    path(
        "service-accounts/<uuid:pk>/active",
        service_account_views.ServiceAccountActivateView.as_view(),
        name="service-account-activate",
    ),
    path(
        "service-accounts/<uuid:pk>/keys/<uuid:key_pk>/<slug:operation>",
        service_account_views.APIKeyView.as_view(),
        name="api-key-action",
    ),
    path("settings/", settings_views.TenantSettingsView.as_view(), name="tenant-settings"),
    path("invitations/<str:token>/", invitation_views.InvitationView.as_view(), name="invitation"),
    path("devices/<uuid:pk>/revoke", views.DeviceRevokeView.as_view(), name="device-revoke"),
]
