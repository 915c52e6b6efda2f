import json
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

SCRIPT_CONTENT_MAX_BYTES = 64 * 1024


def validate_script_content(value) -> None:
    """A script's content is a JSON object of at most 64 KiB (compact UTF-8 JSON).

    The mobile app reads named parts of a template (system prompt, parameters, ...), so a
    bare list, string or number is never a usable template.
    """
    if not isinstance(value, dict):
        raise ValidationError(
            'Script content must be a JSON object, like {"system": "..."}.', code="not_an_object"
        )
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > SCRIPT_CONTENT_MAX_BYTES:
        raise ValidationError(
            f"Script content is {size} bytes; at most {SCRIPT_CONTENT_MAX_BYTES} bytes are allowed.",
            code="too_large",
        )


class AIScript(models.Model):
    """A prompt template the mobile app fetches. Change it only through ai_scripts.services,
    which records its history and changes the ETag clients see."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    script_name = models.SlugField(max_length=100, unique=True)
    version = models.CharField(max_length=20)
    script_content = models.JSONField(validators=[validate_script_content])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "ai_scripts"
        ordering = ["script_name"]
        verbose_name = "AI script"
        indexes = [
            # GET /api/ai/scripts reads the active scripts in name order.
            models.Index(
                fields=["script_name"], condition=models.Q(is_active=True), name="ai_scripts_active_name_idx"
            ),
        ]

    def __str__(self):
        return self.script_name


class AIScriptVersion(models.Model):
    """One saved state of a script: written by ai_scripts.services on every change, never edited."""

    script = models.ForeignKey(AIScript, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=20)
    script_content = models.JSONField()
    is_active = models.BooleanField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "ai_script_versions"
        ordering = ["-changed_at", "-id"]
        verbose_name = "AI script version"
        indexes = [models.Index(fields=["script", "-changed_at"])]

    def __str__(self):
        return f"{self.script_id} {self.version} at {self.changed_at:%Y-%m-%d %H:%M:%S}"
