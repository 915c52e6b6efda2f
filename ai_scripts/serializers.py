from rest_framework import serializers

from ai_scripts.models import AIScript, validate_script_content


class AIScriptSerializer(serializers.ModelSerializer):
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


class AIServiceHealthSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["up", "down"])
    latency_ms = serializers.IntegerField(allow_null=True)


class AIHealthSerializer(serializers.Serializer):
    """The shape of GET /api/ai/health, for the API schema."""

    status = serializers.ChoiceField(choices=["ok", "degraded", "down"])
    services = AIServiceHealthSerializer(many=True)
    active_scripts = serializers.IntegerField()
