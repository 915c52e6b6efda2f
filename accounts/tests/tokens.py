"""Hand-made JWTs for tests: expired, forged and tampered tokens."""

import base64
import json
from datetime import timedelta

import jwt
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken


def expired(token_class, valid_token: str) -> str:
    """The same claims as `valid_token`, expired an hour ago."""
    token = token_class(valid_token)
    token.set_exp(from_time=token.current_time - timedelta(hours=1), lifetime=timedelta(seconds=1))
    return str(token)


def expired_access(valid_token: str) -> str:
    return expired(AccessToken, valid_token)


def expired_refresh(valid_token: str) -> str:
    return expired(RefreshToken, valid_token)


def signed_with(valid_token: str, key: str, algorithm: str = "HS256") -> str:
    claims = jwt.decode(valid_token, options={"verify_signature": False})
    return jwt.encode(claims, key, algorithm=algorithm)


def unsigned(valid_token: str) -> str:
    """The `alg: none` attack: the same claims with no signature."""
    claims = jwt.decode(valid_token, options={"verify_signature": False})
    return jwt.encode(claims, None, algorithm="none")


def with_claims(valid_token: str, **changes) -> str:
    """The token with its payload edited but the original signature kept."""
    header, payload, signature = valid_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{edited}.{signature}"


def resigned(valid_token: str, **changes) -> str:
    """The token with edited claims, properly signed with the server's key."""
    claims = jwt.decode(valid_token, options={"verify_signature": False})
    claims.update(changes)
    return jwt.encode(claims, settings.JWT_SECRET, algorithm="HS256")


def resigned_with_claims(valid_token: str, **changes) -> str:
    """The token with its payload edited and signed again with the server's real key."""
    claims = jwt.decode(valid_token, options={"verify_signature": False})
    return jwt.encode({**claims, **changes}, settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")
