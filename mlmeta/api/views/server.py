"""Server-level reads of a tenant: its statistics, a project's statistics and the component types."""

from rest_framework.decorators import api_view
from rest_framework.response import Response

from mlmeta.api import references
from mlmeta.choices import StackComponentType
from mlmeta.models import Pipeline, PipelineRun, Stack, StackComponent
from tenants.models import Project

STATISTICS = {"stacks": Stack, "components": StackComponent, "projects": Project}


@api_view(["GET"])
def component_types(request):
    return Response(list(StackComponentType.values))


@api_view(["GET"])
def server_statistics(request):
    """ZenML's ServerStatistics, counted over what the caller may see of the tenant."""
    return Response({name: references.restricted(request, model).count() for name, model in STATISTICS.items()})


@api_view(["GET"])
def project_statistics(request, project_name_or_id):
    project = references.resolve_project(request, project_name_or_id)
    return Response(
        {
            "pipelines": references.restricted(request, Pipeline).filter(project=project).count(),
            "runs": references.restricted(request, PipelineRun).filter(project=project).count(),
        }
    )
