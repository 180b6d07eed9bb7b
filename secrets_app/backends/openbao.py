"""The `openbao` backend: values in the tenant's own OpenBao (or HashiCorp Vault), through the
KV version 2 API, so that MLMeta's database holds only the metadata of the tenant's secrets."""

import logging
import threading

import hvac
import requests
from hvac import exceptions as vault

from secrets_app.backends.base import SecretsBackend
from secrets_app.choices import BackendAuthMethod

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10

# One logged-in client per configuration: an AppRole login per request would double the round
# trips. Changing any connection setting makes a new client.
_clients: dict[tuple, hvac.Client] = {}
_clients_lock = threading.Lock()


class OpenBaoBackend(SecretsBackend):
    """One KV secret per MLMeta secret, at `<mount>/<path prefix>/<secret id>`, configured by a
    SecretBackendConfig (address, mount, prefix, token or AppRole, TLS verification).

    Every failure to reach or use the server becomes BackendUnavailable; deleting keeps no
    old versions behind (the metadata and all versions go).
    """

    @classmethod
    def config_errors(cls, config) -> dict[str, str]:
        errors = {}
        if not config.address.startswith(("http://", "https://")):
            errors["address"] = "An http:// or https:// address of the OpenBao server."
        if not config.mount.strip("/"):
            errors["mount"] = "The mount point of a KV version 2 engine."
        if config.auth_method == BackendAuthMethod.APPROLE:
            if not config.role_id:
                errors["role_id"] = "AppRole authentication needs a role_id."
            if not config.has_credential("secret_id"):
                errors["secret_id"] = "AppRole authentication needs a secret_id."
        elif not config.has_credential("token"):
            errors["token"] = "Token authentication needs a token."
        return errors

    def identity(self) -> tuple:
        config = self.config
        if config is None:
            return (self.name,)
        return (self.name, config.address.rstrip("/"), config.mount.strip("/"), config.path_prefix.strip("/"))

    def get_values(self, secret) -> dict[str, str] | None:
        def read(client):
            try:
                response = client.secrets.kv.v2.read_secret_version(
                    path=self.path(secret), mount_point=self.config.mount, raise_on_deleted_version=True
                )
            except vault.InvalidPath:
                return None
            return dict(response["data"]["data"] or {})

        return self._call(read)

    def set_values(self, secret, values: dict[str, str]) -> None:
        self._call(
            lambda client: client.secrets.kv.v2.create_or_update_secret(
                path=self.path(secret), secret=dict(values), mount_point=self.config.mount
            )
        )

    def delete_values(self, secret) -> None:
        self._call(
            lambda client: client.secrets.kv.v2.delete_metadata_and_all_versions(
                path=self.path(secret), mount_point=self.config.mount
            )
        )

    def path(self, secret) -> str:
        prefix = self.config.path_prefix.strip("/")
        return f"{prefix}/{secret.pk}" if prefix else str(secret.pk)

    # --- connection ----------------------------------------------------------------------
    def _call(self, operation):
        """Run `operation(client)`; an expired AppRole token gets one fresh login."""
        if self.config is None or not self.config.address:
            raise self.unavailable("it is not configured for this tenant")
        try:
            try:
                return operation(self._client())
            except vault.Forbidden:
                if self.config.auth_method != BackendAuthMethod.APPROLE:
                    raise
                self._forget_client()
                return operation(self._client())
        except vault.Forbidden:
            raise self._failure("its credentials were refused", "Forbidden") from None
        except vault.Unauthorized:
            raise self._failure("its credentials were refused", "Unauthorized") from None
        except requests.exceptions.SSLError:
            raise self._failure("its TLS certificate could not be verified", "SSLError") from None
        except requests.exceptions.Timeout:
            raise self._failure(f"no answer within {TIMEOUT_SECONDS}s", "Timeout") from None
        except requests.exceptions.RequestException as exc:
            raise self._failure("the connection failed", type(exc).__name__) from None
        except OSError as exc:  # requests reports an unreadable CA bundle this way
            raise self._failure("its CA bundle could not be read", type(exc).__name__) from None
        except vault.VaultDown:
            raise self._failure("it is sealed", "VaultDown") from None
        except vault.VaultError as exc:
            raise self._failure("it answered with an error", type(exc).__name__) from None

    def _failure(self, reason: str, kind: str):
        # The exception class only: a library's message may quote the request.
        logger.warning("secrets backend %s (%s) at %s failed: %s", self.name, self.role, self.config.address, kind)
        return self.unavailable(reason)

    def _key(self) -> tuple:
        config = self.config
        return (
            config.pk,
            config.address,
            config.tls_verify,
            config.ca_bundle,
            config.auth_method,
            config.role_id,
            config.token_ciphertext,
            config.secret_id_ciphertext,
        )

    def _client(self) -> hvac.Client:
        with _clients_lock:
            client = _clients.get(self._key())
        if client is None:
            client = self._connect()
            with _clients_lock:
                for key in [key for key in _clients if key[0] == self.config.pk]:
                    del _clients[key]
                _clients[self._key()] = client
        return client

    def _forget_client(self) -> None:
        with _clients_lock:
            _clients.pop(self._key(), None)

    def _connect(self) -> hvac.Client:
        config = self.config
        verify = (config.ca_bundle or True) if config.tls_verify else False
        client = hvac.Client(url=config.address, timeout=TIMEOUT_SECONDS, verify=verify)
        if config.auth_method == BackendAuthMethod.APPROLE:
            client.auth.approle.login(role_id=config.role_id, secret_id=config.credential("secret_id"))
        else:
            client.token = config.credential("token")
        return client
