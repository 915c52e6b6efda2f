from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.tokens import AccessToken, Token

from accounts.services import token_decode, token_user


class TokenFamilyAuthentication(JWTAuthentication):
    """Bearer access tokens whose family is still alive.

    simplejwt alone checks only signature, expiry and type; this also rejects tokens that
    were revoked (logout, password change, device sign-out) or whose user is inactive or
    deleted, in one query. `request.auth` is the validated token, as with simplejwt.
    """

    def authenticate(self, request):
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        token = self.get_validated_token(raw_token)
        user = token_user(token)
        if user is None:
            raise InvalidToken("Token is invalid or revoked.")
        return user, token

    def get_validated_token(self, raw_token: bytes) -> Token:
        return token_decode(AccessToken, raw_token)


class OptionalTokenAuthentication(TokenFamilyAuthentication):
    """For public endpoints that a token only refines (the app configuration): an invalid,
    expired or revoked token counts as none, so the request is answered as signed out."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            return None
