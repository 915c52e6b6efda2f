from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.services import token_family_live


class TokenFamilyAuthentication(JWTAuthentication):
    """Bearer access tokens whose family is still alive.

    simplejwt alone checks only signature, expiry and type; this also rejects tokens that
    were revoked (logout, password change, device sign-out) or whose user is inactive or
    deleted, in one query. `request.auth` is the token family.
    """

    def authenticate(self, request):
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        family = token_family_live(self.get_validated_token(raw_token))
        if family is None:
            raise InvalidToken("Token is invalid or revoked.")
        return family.user, family
