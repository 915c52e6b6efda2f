from django.apps import AppConfig


class AIScriptsConfig(AppConfig):
    name = "ai_scripts"
    default_auto_field = "django.db.models.BigAutoField"
