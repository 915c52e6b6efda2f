"""The app configuration's draft rows, as the tests compare them."""

from ai_scripts.models import ConfigParameter, ConfigRule


def draft_parameters() -> list[tuple]:
    fields = ("key", "value_type", "default_value", "description")
    return list(ConfigParameter.objects.order_by("key").values_list(*fields))


def draft_rules() -> list[tuple]:
    return list(
        ConfigRule.objects.order_by("parameter__key", "position").values_list(
            "parameter__key", "position", "platforms", "app_versions", "signed_in", "rollout_percent", "value"
        )
    )
