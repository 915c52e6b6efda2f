from django.conf import settings
from django.db import models
from django.utils import timezone

from ai_scripts import app_config


class ConfigParameter(models.Model):
    """One parameter of the draft configuration. Apps never read the draft: they get the
    latest ConfigVersion, which ai_scripts.config_services.config_publish makes from it after
    app_config.document_check (the admin's forms check each value as it is typed)."""

    key = models.CharField(
        max_length=app_config.KEY_MAX_LENGTH,
        unique=True,
        validators=[app_config.validate_key],
        help_text="The name the app reads, e.g. chat_enabled: lowercase letters, digits and underscores. "
        f"{app_config.MINIMUM_VERSION_KEY} is special: apps older than its value are told to update.",
    )
    value_type = models.CharField("type", max_length=10, choices=app_config.ValueType.choices)
    default_value = models.JSONField(blank=True, help_text="What every app gets when no rule matches.")
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        db_table = "app_config_parameters"
        ordering = ["key"]
        verbose_name = "app config parameter"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(value_type__in=app_config.ValueType.values),
                name="app_config_parameters_value_type",
            ),
        ]

    def __str__(self):
        return self.key


class ConfigRule(models.Model):
    """A conditional value of a parameter: an app that meets every condition set on the rule
    gets its value; rules are tried by position and the first match wins."""

    parameter = models.ForeignKey(ConfigParameter, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveSmallIntegerField(default=1, help_text="Rules are tried from the lowest up.")
    platforms = models.JSONField(
        default=list,
        blank=True,
        validators=[app_config.validate_platforms],
        help_text="The X-Platform values that match; none ticked matches every platform.",
    )
    app_versions = models.CharField(
        "app versions",
        max_length=100,
        blank=True,
        validators=[app_config.validate_version_range],
        help_text="A semver range the X-App-Version must satisfy, e.g. >=2.1.0 <3.0.0; empty matches any.",
    )
    signed_in = models.BooleanField(
        "signed in",
        null=True,
        blank=True,
        help_text="Yes: only with a valid access token; No: only without; Either: both.",
    )
    rollout_percent = models.PositiveSmallIntegerField(
        "rollout %",
        null=True,
        blank=True,
        help_text="0 to 100: the share of signed-in users who match, stable per user and parameter; "
        "empty: everyone. Apps without a token match only 100.",
    )
    value = models.JSONField(blank=True)  # blank: "" and {} are values too

    class Meta:
        db_table = "app_config_rules"
        ordering = ["parameter", "position", "pk"]
        verbose_name = "rule"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rollout_percent__lte=100),
                name="app_config_rules_rollout_percent",
                violation_error_message="The rollout percentage must be between 0 and 100.",
            ),
        ]

    def __str__(self):
        return f"rule {self.position}"


class ConfigVersion(models.Model):
    """A published configuration: what apps receive while it is the newest. Written by
    ai_scripts.config_services on every publish, rollback and import; never edited."""

    number = models.PositiveIntegerField(unique=True)
    document = models.JSONField(help_text="The configuration in the export format.")
    note = models.CharField(max_length=200, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "app_config_versions"
        ordering = ["-number"]
        verbose_name = "published app config"
        verbose_name_plural = "published app configs"

    def __str__(self):
        return f"version {self.number}"
