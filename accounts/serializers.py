from rest_framework import serializers

from accounts.models import User
from persona.serializers import DeviceIdField, StrictCharField


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "created_at", "last_sync", "device_count"]
        read_only_fields = fields


# Every input is a JSON string only (StrictCharField): a number is a 400, never quietly text.


class LoginSerializer(serializers.Serializer):
    # A plain string: a malformed email is just an unknown one (401), not a hint (400).
    email = StrictCharField(max_length=254)
    password = StrictCharField(max_length=1024, trim_whitespace=False)
    device_id = DeviceIdField(required=False, default="")


class StrictEmailField(StrictCharField, serializers.EmailField):
    pass


class RegisterSerializer(LoginSerializer):
    email = StrictEmailField(max_length=254)


class TokenSerializer(serializers.Serializer):
    token = StrictCharField()


class RefreshSerializer(serializers.Serializer):
    refresh = StrictCharField()


class PasswordSerializer(serializers.Serializer):
    password = StrictCharField(max_length=1024, trim_whitespace=False)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = StrictCharField(max_length=1024, trim_whitespace=False)
    new_password = StrictCharField(max_length=1024, trim_whitespace=False)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class SignInSerializer(TokenPairSerializer):
    user = UserSerializer()


class VerifiedSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    token_type = serializers.ChoiceField(choices=["access", "refresh"])
