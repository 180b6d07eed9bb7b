from secrets_app.models.connectors import ServiceConnector
from secrets_app.models.secrets import Secret

__all__ = ["Secret", "ServiceConnector"]
