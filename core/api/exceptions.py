"""ZenML's error bodies (wire.md section 7): `{"detail": ["<ExceptionClass>", "<message>"]}`,
a bare list for request validation (422), plain strings for routing errors."""

import logging

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError, IntegrityError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ZenError(exceptions.APIException):
    """An error the client maps to one of its exception classes by status and class name."""

    status_code = status.HTTP_400_BAD_REQUEST
    error_class = "ValueError"

    def __init__(self, message: str, error_class: str | None = None, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.error_class = error_class or self.error_class
        if status_code:
            self.status_code = status_code

    def body(self):
        return {"detail": [self.error_class, self.message]}


class EntityExistsError(ZenError):
    status_code = status.HTTP_409_CONFLICT
    error_class = "EntityExistsError"


class EntityNotFound(ZenError):
    status_code = status.HTTP_404_NOT_FOUND
    error_class = "KeyError"

    def __init__(self, message: str):
        # The real server's KeyError messages come quoted, as Python's str(KeyError(...)) does.
        super().__init__(f'"{message}"')


class IllegalOperationError(ZenError):
    status_code = status.HTTP_403_FORBIDDEN
    error_class = "IllegalOperationError"


class CredentialsNotValid(exceptions.AuthenticationFailed):
    def __init__(self, message: str):
        super().__init__(f"Authentication error: {message}")


class RequestValidationError(ZenError):
    """422 with the bare-list body the real server sends for pydantic validation errors."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY

    def body(self):
        return [self.error_class, self.message]


def exception_handler(exc, context):
    if isinstance(exc, ZenError):
        return Response(exc.body(), status=exc.status_code)
    if isinstance(exc, exceptions.NotAuthenticated):
        return Response({"detail": "Not authenticated"}, status=401, headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, exceptions.AuthenticationFailed):
        return Response({"detail": ["CredentialsNotValid", str(exc.detail)]}, status=401)
    if isinstance(exc, (Http404, ObjectDoesNotExist, exceptions.NotFound)):
        message = str(exc) or "No such entity."
        return Response({"detail": ["KeyError", f'"{message}"']}, status=404)
    if isinstance(exc, (DjangoPermissionDenied, exceptions.PermissionDenied)):
        message = str(getattr(exc, "detail", "") or exc) or "You are not allowed to do this."
        return Response({"detail": ["IllegalOperationError", message]}, status=403)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response({"detail": "Method Not Allowed"}, status=405)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return Response({"detail": ["ValueError", str(exc.detail)]}, status=415)
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": ["ValueError", f"The request body is too large: {exc}"]}, status=413)
    if isinstance(exc, exceptions.ParseError):
        return Response(["ValueError", f"Invalid request body: {exc.detail}"], status=422)
    if isinstance(exc, exceptions.ValidationError):
        return Response(["ValueError", str(exc.detail)], status=422)
    if isinstance(exc, exceptions.Throttled):
        return Response({"detail": ["RuntimeError", str(exc.detail)]}, status=429)
    if isinstance(exc, DataError):
        # The database refused a value (too long for its column, out of range, a NUL byte).
        logger.info("Data error turned into 422: %s", exc)
        return Response(["ValueError", f"Invalid value: {exc}".strip()], status=422)
    if isinstance(exc, IntegrityError):
        logger.info("Integrity error turned into 409: %s", exc)
        return Response(
            {"detail": ["EntityExistsError", "An entity with these unique fields already exists."]}, status=409
        )
    if isinstance(exc, exceptions.APIException):
        return Response({"detail": ["RuntimeError", str(exc.detail)]}, status=exc.status_code)
    return None


@csrf_exempt
def api_not_found(request, exception=None):
    """404 for unknown routes under /api: `{"detail": "Not Found"}` like the real server.

    CSRF-exempt like the API views: otherwise a POST to an unknown route gets Django's 403 HTML
    page, which the zenml client reports as a misleading IllegalOperationError."""
    return JsonResponse({"detail": "Not Found"}, status=404)
