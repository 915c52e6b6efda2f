from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken, Token
from rest_framework_simplejwt.utils import aware_utcnow

from accounts.services import token_decode, token_family_get

# Access tokens that passed every check, by their text. A client sends the same token on
# every request until it expires, and checking it again (base64, JSON, HMAC, claims) was
# a tenth of an authenticated read's CPU (bench/). Only the expiry can change, so it is
# checked on every use; the family (revocation, inactive user) is queried every time.
VERIFIED_TOKENS_KEPT = 1024
_verified_tokens: dict[bytes, Token] = {}


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
        family = token_family_get(self.get_validated_token(raw_token))
        if family is None:
            raise InvalidToken("Token is invalid or revoked.")
        return family.user, family

    def get_validated_token(self, raw_token: bytes) -> Token:
        token = _verified_tokens.get(raw_token)
        if token is not None:
            try:
                token.check_exp(current_time=aware_utcnow())
                return token
            except TokenError:
                # Expired since: the full check below gives the usual answer.
                _verified_tokens.pop(raw_token, None)
        token = token_decode(AccessToken, raw_token)
        if len(_verified_tokens) >= VERIFIED_TOKENS_KEPT:
            _verified_tokens.clear()
        _verified_tokens[raw_token] = token
        return token
