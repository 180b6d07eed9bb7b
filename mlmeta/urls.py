from django.urls import path

from mlmeta import hook_views, run_views

urlpatterns = [
    path("", run_views.RunListView.as_view(), name="home"),
    path("runs/", run_views.RunListView.as_view(), name="run-list"),
    path("runs/statuses", run_views.RunStatusesView.as_view(), name="run-statuses"),
    path("runs/delete", run_views.RunBulkDeleteView.as_view(), name="run-bulk-delete"),
    path("runs/<uuid:pk>/", run_views.RunDetailView.as_view(), name="run-detail"),
    path("runs/<uuid:pk>/stop", run_views.RunStopView.as_view(), name="run-stop"),
    path("runs/<uuid:pk>/rerun", run_views.RunRerunView.as_view(), name="run-rerun"),
    path("runs/<uuid:pk>/delete", run_views.RunDeleteView.as_view(), name="run-delete"),
    path("steps/<uuid:pk>/", run_views.StepDetailView.as_view(), name="step-detail"),
    path("steps/<uuid:pk>/expire-cache", run_views.StepExpireCacheView.as_view(), name="step-expire-cache"),
    path("search", run_views.SearchView.as_view(), name="search"),
    path("hooks/<uuid:pk>", hook_views.inbound, name="inbound-webhook"),
]
