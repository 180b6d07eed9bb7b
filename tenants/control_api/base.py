"""What every control-plane view shares: plain DRF conventions (not the ZenML envelope of
/api/v1), session or API-key authentication, authenticated users only, pagination, django-filter,
and RBAC through tenants.rbac (querysets restricted by `.restrict()`, objects by `rbac.check()`,
grants and keys through tenants.access). A refusal is a 403 naming the reason and an audited
"permission_denied" event.

These views set their own authentication, permission, renderer and exception-handling classes
instead of the /api/v1 defaults of REST_FRAMEWORK: the control plane is organization-wide (no
tenant in the URL) and speaks plain DRF JSON; tests/tenants/test_control_api.py covers them.
"""

import uuid

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, pagination, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tenants import audit, rbac
from tenants.control_api.authentication import APIKeyAuthentication

USER_ID = OpenApiParameter("user_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class ControlPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc, context):
    """DRF's handler, plus Django's validation and permission errors and database refusals as
    4xx answers naming the problem (never a 500)."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "Permission denied.")
    elif isinstance(exc, ProtectedError):
        return Response({"detail": "Other objects still depend on this one."}, status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, IntegrityError):
        return Response({"detail": "This conflicts with an existing object."}, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)


def parse_uuid(value, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise exceptions.ValidationError({name: f"'{value}' is not a valid UUID."}) from None


class ControlViewSet(viewsets.GenericViewSet):
    """Base of the control-plane viewsets: `queryset` is narrowed with `.restrict(user, "read")`;
    `authorize(action, obj)` asks rbac.check for anything else."""

    authentication_classes = [APIKeyAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    pagination_class = ControlPagination
    filter_backends = [DjangoFilterBackend]
    lookup_value_converter = "uuid"
    # When one model serves two RBAC types (users and service accounts).
    rbac_resource_type: str | None = None

    def get_exception_handler(self):
        return exception_handler

    def get_queryset(self):
        return self.queryset.all().restrict(self.request.user, "read", self.rbac_resource_type)

    def authorize(self, action: str, obj) -> None:
        """Refuse (403, audited) unless the caller may `action` `obj`."""
        if not rbac.check(self.request.user, action, obj, self.rbac_resource_type):
            self.deny(f"You may not {action} this {self.rbac_type()}.", obj=obj)

    def authorize_create(self, resource_type: str, organization) -> None:
        """Refuse (403, audited) unless the caller may create `resource_type` in `organization`."""
        if not rbac.can(self.request.user, "create", resource_type, organization=organization):
            self.deny(f"You may not create a {resource_type} in this organization.", organization=organization)

    def deny(self, reason: str, obj=None, organization=None):
        audit.record(
            "permission_denied",
            request=self.request,
            obj=obj,
            resource_type=self.rbac_type(),
            organization=organization,
            detail=f"{reason} ({self.request.method} {self.request.path})",
        )
        raise exceptions.PermissionDenied(reason)

    def rbac_type(self) -> str:
        return self.rbac_resource_type or rbac.shape(self.queryset.model).type

    def find(self, queryset, value, name: str, action: str = "read", resource_type: str | None = None):
        """One row of `queryset` by id that the caller may `action`, or a 400 naming `name`."""
        obj = queryset.restrict(self.request.user, action, resource_type).filter(pk=parse_uuid(value, name)).first()
        if obj is None:
            raise exceptions.ValidationError({name: f"No {name} with id '{value}' that you may {action}."})
        return obj

    def paged(self, queryset, serializer_class):
        page = self.paginate_queryset(queryset)
        data = serializer_class(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    def audit(self, action: str, obj, changes: dict | None = None, **extra) -> None:
        audit.record(action, request=self.request, obj=obj, changes=changes, **extra)

    def data(self, serializer_class, partial: bool = False) -> dict:
        """The request body validated by `serializer_class` (400 naming the bad fields)."""
        serializer = serializer_class(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
