from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import services
from accounts.models import User
from accounts.serializers import (
    LoginSerializer,
    PasswordChangeSerializer,
    PasswordSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenSerializer,
    UserSerializer,
)
from persona.ratelimit import rate_limit


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class AuthViewSet(viewsets.ViewSet):
    """Signing in: public endpoints that hand out and check tokens."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    def get_authenticate_header(self, request):
        # Without it DRF turns this view's 401 answers into 403.
        return 'Bearer realm="api"'

    @action(detail=False, methods=["post"])
    def register(self, request):
        rate_limit(request, group="register-ip")
        data = _validated(RegisterSerializer, request)
        user, tokens = services.user_register(**data)
        return Response({"user": UserSerializer(user).data, **tokens}, status=status.HTTP_201_CREATED)

    @action(detail=False, methods=["post"])
    def login(self, request):
        # Counted before the password is checked: while limited, even the right one gets 429.
        rate_limit(request, group="login-ip")
        data = _validated(LoginSerializer, request)
        rate_limit(request, group="login-email", key=User.objects.normalize_email(data["email"]))
        user = services.user_authenticate(request=request, email=data["email"], password=data["password"])
        tokens = services.token_family_start(user=user, device_id=data["device_id"])
        return Response({"user": UserSerializer(user).data, **tokens})

    @action(detail=False, methods=["post"])
    def verify(self, request):
        rate_limit(request, group="verify-ip")
        data = _validated(TokenSerializer, request)
        return Response({"valid": True, "token_type": services.token_verify(token=data["token"])})

    @action(detail=False, methods=["post"])
    def refresh(self, request):
        rate_limit(request, group="refresh-ip")
        data = _validated(RefreshSerializer, request)
        return Response(services.token_refresh(refresh=data["refresh"]))


class AccountViewSet(viewsets.ViewSet):
    """The signed-in user's own account and sessions."""

    @action(detail=False, methods=["get", "delete"])
    def profile(self, request):
        if request.method == "DELETE":
            data = _validated(PasswordSerializer, request)
            services.user_delete(user=request.user, password=data["password"])
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(UserSerializer(request.user).data)

    @action(detail=False, methods=["post"])
    def logout(self, request):
        data = _validated(RefreshSerializer, request)
        services.token_family_revoke(user=request.user, refresh=data["refresh"])
        return Response(status=status.HTTP_205_RESET_CONTENT)

    @action(detail=False, methods=["post"], url_path="logout-all")
    def logout_all(self, request):
        services.token_families_revoke(user=request.user)
        return Response(status=status.HTTP_205_RESET_CONTENT)

    @action(detail=False, methods=["post"])
    def password(self, request):
        data = _validated(PasswordChangeSerializer, request)
        tokens = services.user_change_password(user=request.user, family=request.auth, **data)
        return Response(tokens)
