from django.contrib.auth import views as auth_views
from django.urls import include, path

from tenants import invitation_views, member_views, views
from tenants.forms import LoginForm

urlpatterns = [
    path(
        "login",
        auth_views.LoginView.as_view(template_name="tenants/login.html", authentication_form=LoginForm),
        name="login",
    ),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path("sso/", include("tenants.sso.urls")),
    path("devices/verify", views.DeviceVerifyView.as_view(), name="device-verify"),
    path("audit/", views.AuditEventListView.as_view(), name="audit-list"),
    path("members/", member_views.MemberListView.as_view(), name="member-list"),
    path("invitations/<str:token>/", invitation_views.InvitationView.as_view(), name="invitation"),
    path("devices/<uuid:pk>/revoke", views.DeviceRevokeView.as_view(), name="device-revoke"),
]
