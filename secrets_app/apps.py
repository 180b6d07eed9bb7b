from django.apps import AppConfig


class SecretsConfig(AppConfig):
    name = "secrets_app"
    verbose_name = "Secrets"

    def ready(self):
        from secrets_app import checks  # noqa: F401 - registers the system check
