from django.urls import path

from tenants.sso import views

urlpatterns = [
    path("<slug:org_slug>/login", views.SSOLoginView.as_view(), name="sso-login"),
    path("<slug:org_slug>/callback", views.SSOCallbackView.as_view(), name="sso-callback"),
]
