"""Service accounts of an organization and their API keys (tenants.access does the changes)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from tenants import access
from tenants.control_api import serializers as s
from tenants.control_api.base import ControlViewSet
from tenants.control_api.filtersets import APIKeyFilterSet, ServiceAccountFilterSet
from tenants.models import APIKey, Organization, User


class ServiceAccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ControlViewSet):
    queryset = User.objects.filter(is_service_account=True, organization__isnull=False)
    serializer_class = s.ServiceAccountSerializer
    filterset_class = ServiceAccountFilterSet
    rbac_resource_type = "service_account"

    def create(self, request):
        data = self.data(s.ServiceAccountSerializer)
        org = self.find(Organization.objects.all(), data["organization_id"], "organization")
        account = access.create_service_account(
            org, data["username"], description=data.get("description", ""), by=request.user, request=request
        )
        if data.get("full_name"):
            access.update_service_account(account, full_name=data["full_name"])
        return Response(self.get_serializer(account).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ServiceAccountUpdateSerializer)
    def partial_update(self, request, pk=None):
        """Change the description or name, or deactivate (`active: false`): its keys and every
        token minted from them stop working at once."""
        account = self.get_object()
        data = self.data(s.ServiceAccountUpdateSerializer)
        account = access.update_service_account(account, by=request.user, request=request, **data)
        return Response(self.get_serializer(account).data)


class APIKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ControlViewSet):
    queryset = APIKey.objects.select_related("service_account")
    serializer_class = s.APIKeySerializer
    filterset_class = APIKeyFilterSet

    @extend_schema(responses={201: s.APIKeyCreatedSerializer})
    def create(self, request):
        """A new key of a service account; the answer holds the key (`ZENKEY_...`) once."""
        data = self.data(s.APIKeySerializer)
        queryset = User.objects.filter(is_service_account=True)
        account = self.find(queryset, data["service_account_id"], "service_account", resource_type="service_account")
        key, plaintext = access.issue_api_key(
            account,
            data["name"],
            expires=data.get("expires"),
            description=data.get("description", ""),
            by=request.user,
            request=request,
        )
        key.key = plaintext
        return Response(s.APIKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.APIKeyUpdateSerializer)
    def partial_update(self, request, pk=None):
        """Rename, (de)activate or change the expiry of a key; takes effect at once, also for
        tokens of /api/v1 minted from it."""
        key = access.update_api_key(
            self.get_object(), by=request.user, request=request, **self.data(s.APIKeyUpdateSerializer)
        )
        return Response(self.get_serializer(key).data)

    @extend_schema(request=s.APIKeyRotateSerializer, responses=s.APIKeyCreatedSerializer)
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        """A new secret; the previous one keeps working for `retain_period_minutes`."""
        key = self.get_object()
        minutes = self.data(s.APIKeyRotateSerializer)["retain_period_minutes"]
        key.key = access.rotate_api_key(key, retain_period_minutes=minutes, by=request.user, request=request)
        return Response(s.APIKeyCreatedSerializer(key).data)

    def destroy(self, request, pk=None):
        """Delete a key (as the dashboard does: you must hold every permission of its account)."""
        access.delete_api_key(self.get_object(), by=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
