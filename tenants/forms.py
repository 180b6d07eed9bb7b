from django import forms
from django.contrib.auth.forms import AuthenticationForm

from tenants import lockout
from tenants.choices import OAuthDeviceStatus
from tenants.models import DeviceError, OAuthDevice


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Wrong username or password.",
    }

    def get_invalid_login_error(self):
        """A locked-out login says so (tenants.lockout), instead of blaming the password."""
        if lockout.locked_out(self.request):
            return forms.ValidationError(lockout.message(), code="locked_out")
        return super().get_invalid_login_error()


NO_SUCH_DEVICE = (
    "No device with this ID is waiting in this tenant. Open the link exactly as `zenml login` printed it: "
    "it names the tenant the client logs in to."
)


def device_refusal(exc: DeviceError, device: OAuthDevice, user) -> str:
    """What the dashboard tells a user whose approval OAuthDevice refused."""
    if exc.code == "access_denied":
        if device.status == OAuthDeviceStatus.LOCKED:
            return "Too many wrong codes: this device is now locked. Run `zenml login` again to start over."
        return "Wrong code: check it against the one your terminal printed."
    if exc.code == "expired_token":
        return "This login request has expired. Run `zenml login` again for a new link."
    if device.user_id == user.pk and device.status in (OAuthDeviceStatus.VERIFIED, OAuthDeviceStatus.ACTIVE):
        return "You have already approved this device."
    return "This device is not waiting for approval. Run `zenml login` again for a new link."


class DeviceVerificationForm(forms.Form):
    """Approve a device of `zenml login` with the user code its terminal printed.

    `devices` is the queryset the device is looked up in (the tenant's, restricted to the user).
    """

    device_id = forms.UUIDField(
        widget=forms.HiddenInput, error_messages={"required": NO_SUCH_DEVICE, "invalid": NO_SUCH_DEVICE}
    )
    user_code = forms.CharField(label="User code (in the link your terminal printed)", max_length=64)
    trusted_device = forms.BooleanField(
        label="Trust this device", required=False, help_text="Trusted devices stay logged in for longer."
    )

    def __init__(self, *args, devices, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.devices, self.user, self.device = devices, user, None

    def clean(self):
        cleaned = super().clean()
        if "device_id" in cleaned:
            self.device = self.devices.filter(pk=cleaned["device_id"]).first()
            if self.device is None:
                raise forms.ValidationError(NO_SUCH_DEVICE)
        return cleaned

    def verify(self) -> bool:
        """Approve through OAuthDevice.verify(), as `PUT /api/v1/devices/{id}/verify` does; a form error if refused."""
        data = self.cleaned_data
        try:
            self.device.verify(self.user, data["user_code"], data["trusted_device"])
        except DeviceError as exc:
            field = "user_code" if exc.code == "access_denied" else None
            self.add_error(field, device_refusal(exc, self.device, self.user))
            return False
        return True
