"""The OAuth2 device flow of `zenml login URL` (wire.md 3.3) and the devices a user logged in with."""

import uuid

from rest_framework.decorators import api_view, authentication_classes, parser_classes, permission_classes
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from core.api.exceptions import EntityNotFound, ZenError
from core.api.validation import invalid
from core.api.views import ZenViewSet, hydrate_param
from tenants.api.envelopes import DeviceEnvelope
from tenants.api.filtersets import DeviceFilterSet
from tenants.models import DeviceError, OAuthDevice

AUTHORIZATION_TIMEOUT = 300  # seconds a user has to verify a device, as ZenML's default
POLLING_INTERVAL = 5
USER_AGENT_FIELDS = {"Host": "hostname", "ZenML": "zenml_version", "Python": "python_version", "OS": "os"}


def device_attributes(request) -> dict:
    """What the CLI says about itself: `User-Agent: Host/<name> ZenML/<v> Python/<v> OS/<name>`."""
    found = {"ip_address": request.META.get("REMOTE_ADDR")}
    for part in request.META.get("HTTP_USER_AGENT", "").split():
        name, _, value = part.partition("/")
        if name in USER_AGENT_FIELDS and value:
            found[USER_AGENT_FIELDS[name]] = value[:255]
    return found


@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@parser_classes([FormParser, MultiPartParser])
def device_authorization(request):
    tenant = request.tenant
    if tenant is None:
        raise EntityNotFound("No tenant is set up on this server")
    raw = request.data.get("client_id")
    try:
        client_id = uuid.UUID(str(raw))
    except ValueError:
        raise invalid("client_id", "Input should be a valid UUID", raw) from None
    device, _ = OAuthDevice.objects.get_or_create(tenant=tenant, client_id=client_id)
    for field, value in device_attributes(request).items():
        setattr(device, field, value)
    device_code, user_code = device.start_authorization(AUTHORIZATION_TIMEOUT)
    verify = request.build_absolute_uri(f"{tenant.url_prefix}/devices/verify")
    return Response(
        {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verify,
            "verification_uri_complete": f"{verify}?device_id={device.pk}&user_code={user_code}",
            "expires_in": AUTHORIZATION_TIMEOUT,
            "interval": POLLING_INTERVAL,
        }
    )


class DeviceViewSet(ZenViewSet):
    """A user's own devices; a pending one is also reachable, once, with its user code."""

    model = OAuthDevice
    envelope_class = DeviceEnvelope
    filterset_class = DeviceFilterSet
    update_schema = "OAuthDeviceUpdate"
    label = "OAuth2 device"

    def get_queryset(self):
        return super().get_queryset().filter(user=self.request.user)

    def retrieve(self, request, *args, **kwargs):
        user_code = request.query_params.get("user_code")
        if not user_code:
            return super().retrieve(request, *args, **kwargs)
        device = self.pending_device(user_code)
        return Response(DeviceEnvelope(request, hydrate_param(request, True)).render(device))

    def pending_device(self, user_code):
        """A device of the tenant, owned by nobody yet, addressed by id plus its user code."""
        queryset = OAuthDevice.objects.restrict(self.request.user, "update").filter(tenant=self.request.tenant)
        device = self.get_object(queryset.select_related("user"))
        if not device.shown_to(self.request.user, user_code):
            raise EntityNotFound(f"Unable to get OAuth2 device with ID '{device.pk}': invalid user code")
        return device

    def verify(self, request, *args, **kwargs):
        data = self.validated(request.data, "OAuthDeviceVerificationRequest")
        queryset = OAuthDevice.objects.restrict(request.user, "update").filter(tenant=request.tenant)
        device = self.get_object(queryset)
        try:
            device.verify(request.user, data["user_code"], bool(data.get("trusted_device")))
        except DeviceError as exc:
            raise ZenError(str(exc)) from None
        return Response(self.render(device))

    def perform_update(self, device, data):
        if data.get("locked") is not None:
            device.set_locked(data["locked"])
        return device
