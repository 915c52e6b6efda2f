from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import services
from accounts.models import User
from accounts.schema import (
    ACCESS_TOKEN,
    CREDENTIALS,
    CREDENTIALS_WITH_DEVICE,
    PASSWORD_CHANGE,
    PASSWORD_CONFIRMATION,
    PROFILE,
    REFRESH_TOKEN,
    SIGNED_IN,
    TOKEN_PAIR,
    VERIFIED,
)
from accounts.serializers import (
    LoginSerializer,
    PasswordChangeSerializer,
    PasswordSerializer,
    RefreshSerializer,
    RegisterSerializer,
    SignInSerializer,
    TokenPairSerializer,
    TokenSerializer,
    UserSerializer,
    VerifiedSerializer,
)
from persona.ratelimit import rate_limit
from persona.schema import RETRY_AFTER, errors


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema(tags=["auth"])
class AuthViewSet(viewsets.ViewSet):
    """Signing in: public endpoints that hand out and check tokens."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    def get_authenticate_header(self, request):
        # Without it DRF turns this view's 401 answers into 403.
        return 'Bearer realm="api"'

    @extend_schema(
        operation_id="auth_register",
        parameters=[RETRY_AFTER],
        summary="Create an account",
        description="Creates the account and signs it in. The password must pass Django's password "
        "validators (400 otherwise); an email registered before, in any case, is a 409. With a "
        "`device_id`, the tokens are bound to that device.",
        request=RegisterSerializer,
        responses={201: SignInSerializer, **errors(400, 409, 413, 429, 503)},
        examples=[CREDENTIALS, CREDENTIALS_WITH_DEVICE, SIGNED_IN],
    )
    @action(detail=False, methods=["post"])
    def register(self, request):
        rate_limit(request, group="register-ip")
        data = _validated(RegisterSerializer, request)
        user, tokens = services.user_register(**data)
        return Response({"user": UserSerializer(user).data, **tokens}, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="auth_login",
        parameters=[RETRY_AFTER],
        summary="Sign in",
        description="Answers the same 401 whether the email is unknown or the password wrong. "
        "Limited per client address and per email: 429 with `Retry-After` when over the limit "
        "(a right password is not counted against the email). 503 with `Retry-After` when the "
        "server is busy checking other passwords.",
        request=LoginSerializer,
        responses={200: SignInSerializer, **errors(400, 401, 413, 429, 503)},
        examples=[CREDENTIALS, CREDENTIALS_WITH_DEVICE, SIGNED_IN],
    )
    @action(detail=False, methods=["post"])
    def login(self, request):
        # Counted before the password is checked: while limited, even the right one gets 429.
        rate_limit(request, group="login-ip")
        data = _validated(LoginSerializer, request)
        attempt = rate_limit(request, group="login-email", key=User.objects.normalize_email(data["email"]))
        user = services.user_authenticate(request=request, email=data["email"], password=data["password"])
        attempt.refund()
        tokens = services.token_family_start(user=user, device_id=data["device_id"])
        return Response({"user": UserSerializer(user).data, **tokens})

    @extend_schema(
        operation_id="auth_verify",
        parameters=[RETRY_AFTER],
        summary="Check a token",
        description="200 for a live access or refresh token; 401 when it is invalid, expired or revoked.",
        request=TokenSerializer,
        responses={200: VerifiedSerializer, **errors(400, 401, 413, 429, 503)},
        examples=[ACCESS_TOKEN, VERIFIED],
    )
    @action(detail=False, methods=["post"])
    def verify(self, request):
        rate_limit(request, group="verify-ip")
        data = _validated(TokenSerializer, request)
        return Response({"valid": True, "token_type": services.token_verify(token=data["token"])})

    @extend_schema(
        operation_id="auth_refresh",
        parameters=[RETRY_AFTER],
        summary="Rotate the token pair",
        description="A new access token and a new refresh token; the refresh token sent is dead "
        "afterwards. Replayed within a few seconds (a double send) it still gets a pair; replayed "
        "later it counts as stolen and every token of its sign-in is revoked (401).",
        request=RefreshSerializer,
        responses={200: TokenPairSerializer, **errors(400, 401, 413, 429, 503)},
        examples=[REFRESH_TOKEN, TOKEN_PAIR],
    )
    @action(detail=False, methods=["post"])
    def refresh(self, request):
        rate_limit(request, group="refresh-ip")
        data = _validated(RefreshSerializer, request)
        return Response(services.token_refresh(refresh=data["refresh"]))


SIGNED_OUT = OpenApiResponse(description="Signed out; the tokens are dead.")


@extend_schema(tags=["auth"])
class AccountViewSet(viewsets.ViewSet):
    """The signed-in user's own account and sessions."""

    @extend_schema(
        methods=["GET"],
        operation_id="auth_profile",
        summary="The signed-in user",
        description="`device_count` is the number of the user's active devices.",
        responses={200: UserSerializer, **errors(401, 503)},
        examples=[PROFILE],
    )
    @extend_schema(methods=["DELETE"], exclude=True)
    @action(detail=False, methods=["get", "delete"])
    def profile(self, request):
        if request.method == "DELETE":
            # The first route of account deletion, kept for the apps that use it: a body on
            # DELETE is what OpenAPI tools handle badly, so the schema shows the POST below.
            return self.delete_account(request)
        return Response(UserSerializer(request.user).data)

    @extend_schema(
        operation_id="auth_delete_account",
        summary="Delete the account",
        description="Takes the password (400 when wrong). The user, their devices, backups and "
        "tokens are gone. Password checks are limited per address and per account (429). "
        "`DELETE /api/auth/profile` with the same body does the same.",
        request=PasswordSerializer,
        parameters=[RETRY_AFTER],
        responses={
            204: OpenApiResponse(description="The account is gone."),
            **errors(400, 401, 413, 429, 503),
        },
        examples=[PASSWORD_CONFIRMATION],
    )
    @action(detail=False, methods=["post"], url_path="profile/delete")
    def delete_account(self, request):
        data = _validated(PasswordSerializer, request)
        _password_confirmation_limit(request)
        services.user_delete(user=request.user, password=data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="auth_logout",
        summary="Sign out",
        description="Revokes the sign-in the refresh token belongs to: its access and refresh tokens "
        "are dead. 400 when the refresh token is not one of this user's live ones.",
        request=RefreshSerializer,
        responses={205: SIGNED_OUT, **errors(400, 401, 413, 503)},
        examples=[REFRESH_TOKEN],
    )
    @action(detail=False, methods=["post"])
    def logout(self, request):
        data = _validated(RefreshSerializer, request)
        services.token_family_revoke(user=request.user, refresh=data["refresh"])
        return Response(status=status.HTTP_205_RESET_CONTENT)

    @extend_schema(
        operation_id="auth_logout_all",
        summary="Sign out everywhere",
        description="Every token of the user, on every device, access and refresh, is dead at once.",
        request=None,
        responses={205: SIGNED_OUT, **errors(401, 503)},
    )
    @action(detail=False, methods=["post"], url_path="logout-all")
    def logout_all(self, request):
        services.token_families_revoke(user=request.user)
        return Response(status=status.HTTP_205_RESET_CONTENT)

    @extend_schema(
        operation_id="auth_change_password",
        summary="Change the password",
        description="400 when the old password is wrong or the new one weak. Every earlier token "
        "is dead afterwards; the answer is a fresh pair for this device. Password checks are "
        "limited per address and per account (429); a right old password is not counted.",
        request=PasswordChangeSerializer,
        parameters=[RETRY_AFTER],
        responses={200: TokenPairSerializer, **errors(400, 401, 413, 429, 503)},
        examples=[PASSWORD_CHANGE, TOKEN_PAIR],
    )
    @action(detail=False, methods=["post"])
    def password(self, request):
        data = _validated(PasswordChangeSerializer, request)
        attempt = _password_confirmation_limit(request)
        tokens = services.user_change_password(user=request.user, token=request.auth, **data)
        attempt.refund()
        return Response(tokens)


def _password_confirmation_limit(request):
    """Password checks by a signed-in user, limited per address and per account (a stolen
    access token must not become a way to guess the password)."""
    rate_limit(request, group="login-ip")
    return rate_limit(request, group="password-user", key=str(request.user.pk))
