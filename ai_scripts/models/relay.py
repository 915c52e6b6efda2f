import os

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, URLValidator
from django.db import models
from django.utils import timezone

validate_env_var_name = RegexValidator(
    r"^[A-Z_][A-Z0-9_]{0,99}$",
    "The name of an environment variable: capital letters, digits and underscores, e.g. OPENROUTER_API_KEY.",
)
validate_upstream_model = RegexValidator(
    r"^[\x21-\x7e]{1,200}$", "A model name: up to 200 printable characters without spaces."
)


def validate_model_list(value) -> None:
    if not isinstance(value, list) or not all(
        isinstance(name, str) and name and len(name) <= 200 and " " not in name for name in value
    ):
        raise ValidationError(
            'A JSON list of model names, like ["openai/gpt-4o-mini"]; empty allows any model.',
            code="invalid",
        )


class AIService(models.Model):
    """An AI backend: its health is what /api/ai/health reports, and with a base URL it is a
    provider the relay (/api/ai/v1) sends chat requests to. Its URLs may hold a key, so they
    never leave the admin; its API key stays in the environment variable it names."""

    name = models.CharField(max_length=100, unique=True)
    health_url = models.URLField(
        max_length=500,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Probed with GET; any 2xx answer counts as up. It may hold a key: clients never see it. "
        "Left empty, a provider's <base URL>/models is probed with its key.",
    )
    timeout_seconds = models.FloatField(
        default=2.0, help_text="For the health probe: between 0.1 and 10 seconds."
    )
    enabled = models.BooleanField(default=True)
    base_url = models.URLField(
        "base URL",
        max_length=500,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="The root of an OpenAI-compatible API (e.g. https://openrouter.ai/api/v1), which makes "
        "this service a relay provider; empty for a health check only.",
    )
    api_key_env = models.CharField(
        "API key variable",
        max_length=100,
        blank=True,
        validators=[validate_env_var_name],
        help_text="The NAME of the environment variable that holds the provider's API key (the key itself "
        "never enters the database). Empty for a provider without a key.",
    )
    allowed_models = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_model_list],
        help_text="The provider's model names that model aliases may route to; empty allows any.",
    )
    priority = models.PositiveSmallIntegerField(
        default=100, help_text="The relay tries providers with a lower number first."
    )
    request_timeout_seconds = models.FloatField(
        "request timeout",
        default=60.0,
        help_text="For the relay: the longest wait (1 to 600 seconds) for the provider's first byte and "
        "between two streamed chunks; a provider past it counts as failed.",
    )

    class Meta:
        db_table = "ai_services"
        ordering = ["priority", "name"]
        verbose_name = "AI service"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(timeout_seconds__gte=0.1, timeout_seconds__lte=10),
                name="ai_services_timeout_range",
                violation_error_message="The timeout must be between 0.1 and 10 seconds.",
            ),
            models.CheckConstraint(
                condition=models.Q(request_timeout_seconds__gte=1, request_timeout_seconds__lte=600),
                name="ai_services_request_timeout_range",
                violation_error_message="The request timeout must be between 1 and 600 seconds.",
            ),
            models.CheckConstraint(
                condition=~models.Q(health_url="", base_url=""),
                name="ai_services_health_or_base_url",
                violation_error_message="Give a health URL, a base URL, or both.",
            ),
        ]

    def __str__(self):
        return self.name

    def api_key(self) -> str:
        """The provider's key from the environment ("" when it has none or it is unset)."""
        return os.environ.get(self.api_key_env, "") if self.api_key_env else ""


class ModelAlias(models.Model):
    """A model name the app asks the relay for (e.g. `persona-chat`), served by its routes in
    their providers' priority order."""

    name = models.SlugField(
        max_length=100, unique=True, help_text="What the app sends as `model`, e.g. persona-chat."
    )
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        db_table = "ai_model_aliases"
        ordering = ["name"]
        verbose_name = "model alias"
        verbose_name_plural = "model aliases"

    def __str__(self):
        return self.name


class ModelRoute(models.Model):
    """One provider and model that serve an alias; the relay falls back along the routes."""

    alias = models.ForeignKey(ModelAlias, on_delete=models.CASCADE, related_name="routes")
    service = models.ForeignKey(
        AIService, on_delete=models.CASCADE, related_name="routes", verbose_name="provider"
    )
    model = models.CharField(
        max_length=200, validators=[validate_upstream_model], help_text="The provider's own model name."
    )

    class Meta:
        db_table = "ai_model_routes"
        verbose_name = "route"
        constraints = [
            models.UniqueConstraint(fields=["alias", "service"], name="ai_model_routes_one_per_provider"),
        ]

    def __str__(self):
        return f"{self.alias_id} -> {self.service_id}: {self.model}"

    def clean(self):
        service = getattr(self, "service", None)
        if service is None:
            return
        if not service.base_url:
            raise ValidationError({"service": "This service has no base URL, so it is not a provider."})
        if service.allowed_models and self.model not in service.allowed_models:
            raise ValidationError(
                {"model": f"{service.name} allows only: {', '.join(service.allowed_models)}."}
            )


class AIBudget(models.Model):
    """A user's own relay budgets; an empty field keeps the default (AI_RELAY_* settings), 0 is
    no limit."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="ai_budget"
    )
    requests_per_day = models.PositiveIntegerField(null=True, blank=True)
    requests_per_month = models.PositiveIntegerField(null=True, blank=True)
    tokens_per_day = models.PositiveBigIntegerField(null=True, blank=True)
    tokens_per_month = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "ai_budgets"
        verbose_name = "AI budget"

    def __str__(self):
        return str(self.user)


class AIUsageDay(models.Model):
    """A user's relay usage on one day (UTC): what budgets are checked against, one row per
    user and day, so a check reads at most 31 rows whatever the traffic."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    requests = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "ai_usage_days"
        verbose_name = "AI usage day"
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="ai_usage_days_user_day")]

    def __str__(self):
        return f"{self.user_id} {self.day}"


class AIRequest(models.Model):
    """One relayed request, written once when it ends (an INSERT, never updated)."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        CLIENT_GONE = "client_gone", "client went away"
        REFUSED = "refused", "provider refused"
        FAILED = "failed", "every provider failed"
        INTERRUPTED = "interrupted", "provider stopped mid-stream"

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    model_alias = models.CharField(max_length=100)
    provider = models.CharField(max_length=100, blank=True)
    upstream_model = models.CharField(max_length=200, blank=True)
    stream = models.BooleanField(default=False)
    status = models.PositiveSmallIntegerField(help_text="The HTTP status the app got.")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Until the provider's first byte."
    )
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "ai_requests"
        ordering = ["-created_at", "-id"]
        verbose_name = "AI request"
        indexes = [
            # ai_usage and the admin read a period, for everyone or for one user.
            models.Index(fields=["created_at"], name="ai_requests_created_idx"),
            models.Index(fields=["user", "created_at"], name="ai_requests_user_created_idx"),
        ]

    def __str__(self):
        return f"{self.model_alias} at {self.created_at:%Y-%m-%d %H:%M:%S}"
