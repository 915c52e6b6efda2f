from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        import accounts.schema  # noqa: F401 (registers the bearer-JWT scheme with drf-spectacular)
