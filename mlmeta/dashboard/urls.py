from django.urls import path

from mlmeta.dashboard import artifacts, automation, compare, components, models, stacks

urlpatterns = [
    path("artifacts/", artifacts.ArtifactListView.as_view(), name="artifact-list"),
    path("artifacts/<uuid:pk>/", artifacts.ArtifactDetailView.as_view(), name="artifact-detail"),
    path(
        "artifact-versions/<uuid:pk>/",
        artifacts.ArtifactVersionDetailView.as_view(),
        name="artifact-version-detail",
    ),
    path(
        "artifact-versions/<uuid:pk>/visualizations/<int:index>/",
        artifacts.VisualizationFrameView.as_view(),
        name="artifact-visualization",
    ),
    path(
        "artifact-versions/<uuid:pk>/download/",
        artifacts.ArtifactVersionDownloadView.as_view(),
        name="artifact-version-download",
    ),
    path("models/", models.ModelListView.as_view(), name="model-list"),
    path("models/<uuid:pk>/", models.ModelDetailView.as_view(), name="model-detail"),
    path("model-versions/<uuid:pk>/", models.ModelVersionDetailView.as_view(), name="model-version-detail"),
    path("model-versions/<uuid:pk>/promote/", models.ModelVersionPromoteView.as_view(), name="model-version-promote"),
    path("stacks/", stacks.StackListView.as_view(), name="stack-list"),
    path("stacks/new", stacks.StackFormView.as_view(), name="stack-create"),
    path("stacks/<uuid:pk>/", stacks.StackDetailView.as_view(), name="stack-detail"),
    path("stacks/<uuid:pk>/edit", stacks.StackFormView.as_view(), name="stack-edit"),
    path("stacks/<uuid:pk>/delete", stacks.StackDeleteView.as_view(), name="stack-delete"),
    path("components/", components.ComponentListView.as_view(), name="component-list"),
    path("components/new", components.ComponentCreateView.as_view(), name="component-create"),
    path("components/<uuid:pk>/", components.ComponentDetailView.as_view(), name="component-detail"),
    path("components/<uuid:pk>/edit", components.ComponentEditView.as_view(), name="component-edit"),
    path("components/<uuid:pk>/delete", components.ComponentDeleteView.as_view(), name="component-delete"),
    path("runs/compare", compare.RunCompareView.as_view(), name="run-compare"),
    path("schedules/", automation.ScheduleListView.as_view(), name="schedule-list"),
    path("schedules/new", automation.ScheduleFormView.as_view(), name="schedule-create"),
    path("schedules/<uuid:pk>/", automation.ScheduleFormView.as_view(), name="schedule-edit"),
    path("triggers/", automation.TriggerListView.as_view(), name="trigger-list"),
    path("triggers/new", automation.TriggerFormView.as_view(), name="trigger-create"),
    path("triggers/<uuid:pk>/", automation.TriggerFormView.as_view(), name="trigger-edit"),
]
