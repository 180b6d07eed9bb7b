from django.urls import path

from secrets_app import views

urlpatterns = [
    path("secrets", views.SecretListView.as_view(), name="secret-list"),
    path("secrets/<uuid:pk>/reveal", views.SecretRevealView.as_view(), name="secret-reveal"),
]
