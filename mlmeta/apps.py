from django.apps import AppConfig


class MLMetaConfig(AppConfig):
    name = "mlmeta"
    verbose_name = "Metadata store"
