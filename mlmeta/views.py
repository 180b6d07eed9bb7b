from django.urls import reverse
from django.views.generic import TemplateView

from mlmeta.models import Pipeline, PipelineRun
from tenants.views import TenantViewMixin


class HomeView(TenantViewMixin, TemplateView):
    """Landing page: the tenant's most recent runs."""

    template_name = "mlmeta/home.html"
    recent = 25

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["runs"] = (
            self.restrict(PipelineRun).select_related("pipeline", "project", "user").order_by("-created")[: self.recent]
        )
        context["pipeline_count"] = self.restrict(Pipeline).count()
        context["login_command"] = f"zenml login {self.request.build_absolute_uri(reverse('home')).rstrip('/')}"
        return context
