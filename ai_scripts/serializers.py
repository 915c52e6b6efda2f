from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from ai_scripts.models import AIScript, validate_script_content


@extend_schema_field({"type": "object", "additionalProperties": {}})
class ScriptContentField(serializers.JSONField):
    """A script's content: always a JSON object (the model validates it)."""


class AIScriptSerializer(serializers.ModelSerializer):
    script_content = ScriptContentField(read_only=True)

    class Meta:
        model = AIScript
        fields = ["script_name", "version", "script_content", "updated_at"]
        read_only_fields = fields


class AIScriptImportSerializer(serializers.Serializer):
    """One entry of an import file; is_active may be left out."""

    script_name = serializers.SlugField(max_length=100)
    version = serializers.CharField(max_length=20)
    script_content = serializers.JSONField(validators=[validate_script_content])
    is_active = serializers.BooleanField(required=False)


UP_DOWN = ["up", "down"]


class AIServiceHealthSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=UP_DOWN)
    latency_ms = serializers.IntegerField(allow_null=True)
    provider = serializers.BooleanField(help_text="Whether the relay (/api/ai/v1) sends requests to it.")


class AIModelHealthSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="A model alias of the relay.")
    status = serializers.ChoiceField(choices=UP_DOWN, help_text="Up while one of its providers is.")


# One object, although the view is a viewset's `list`.
@extend_schema_serializer(many=False)
class AIHealthSerializer(serializers.Serializer):
    """The shape of GET /api/ai/health, for the API schema."""

    status = serializers.ChoiceField(choices=["ok", "degraded", "down"])
    services = AIServiceHealthSerializer(many=True)
    models = AIModelHealthSerializer(many=True)
    active_scripts = serializers.IntegerField()


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {
            "oneOf": [{"type": "boolean"}, {"type": "number"}, {"type": "string"}, {"type": "object"}]
        },
    }
)
class ConfigParametersField(serializers.DictField):
    """The parameters by key: booleans, numbers, strings or JSON objects."""


class AppConfigSerializer(serializers.Serializer):
    """The shape of GET /api/config/app-config, for the API schema."""

    config_version = serializers.IntegerField(
        help_text="The published version this answer comes from; 0 before anything was published."
    )
    parameters = ConfigParametersField(
        help_text="Each parameter's value for this app (its platform, version and user). A parameter the app "
        "knows but does not find here keeps the app's built-in default."
    )
    update_required = serializers.BooleanField(
        help_text="True when the X-App-Version sent is older than the minimum_app_version parameter: the app "
        "must be updated. False when either is missing or malformed."
    )
