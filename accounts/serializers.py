from rest_framework import serializers

from accounts.models import User


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "created_at", "last_sync", "device_count"]
        read_only_fields = fields


class LoginSerializer(serializers.Serializer):
    # A plain string: a malformed email is just an unknown one (401), not a hint (400).
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    device_id = serializers.CharField(max_length=255, required=False, default="")


class RegisterSerializer(LoginSerializer):
    email = serializers.EmailField(max_length=254)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=1024, trim_whitespace=False)
    new_password = serializers.CharField(max_length=1024, trim_whitespace=False)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class SignInSerializer(TokenPairSerializer):
    user = UserSerializer()


class VerifiedSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    token_type = serializers.ChoiceField(choices=["access", "refresh"])
