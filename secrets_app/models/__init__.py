from secrets_app.models.backend_configs import SecretBackendConfig
from secrets_app.models.connectors import ServiceConnector
from secrets_app.models.secrets import Secret
from secrets_app.models.values import SecretValue

__all__ = ["Secret", "SecretBackendConfig", "SecretValue", "ServiceConnector"]
