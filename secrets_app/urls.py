from django.urls import path

from secrets_app import connector_views, views

urlpatterns = [
    path("secrets", views.SecretListView.as_view(), name="secret-list"),
    path("secrets/<uuid:pk>/reveal", views.SecretRevealView.as_view(), name="secret-reveal"),
    path("connectors/", connector_views.ConnectorListView.as_view(), name="connector-list"),
    path("connectors/new", connector_views.ConnectorCreateView.as_view(), name="connector-create"),
    path("connectors/<uuid:pk>/", connector_views.ConnectorDetailView.as_view(), name="connector-detail"),
    path("connectors/<uuid:pk>/edit", connector_views.ConnectorEditView.as_view(), name="connector-edit"),
    path("connectors/<uuid:pk>/verify", connector_views.ConnectorVerifyView.as_view(), name="connector-verify"),
    path("connectors/<uuid:pk>/delete", connector_views.ConnectorDeleteView.as_view(), name="connector-delete"),
]
