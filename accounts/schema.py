"""The accounts endpoints in the OpenAPI schema: the bearer scheme and examples."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample

from persona.schema import EXAMPLE_ACCESS, EXAMPLE_REFRESH


class BearerJWTScheme(OpenApiAuthenticationExtension):
    """Tells drf-spectacular that our authentication is a bearer JWT."""

    target_class = "accounts.authentication.TokenFamilyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


EXAMPLE_USER = {
    "id": "0b4f9c2e-6d1a-4b8e-9f3c-2a7d5e8c1b90",
    "email": "alice@example.com",
    "created_at": "2026-11-02T09:14:07.512Z",
    "last_sync": "2026-11-25T18:40:11.003Z",
    "device_count": 2,
}

CREDENTIALS = OpenApiExample(
    "Credentials",
    value={"email": "alice@example.com", "password": "correct horse battery staple"},
    request_only=True,
)
CREDENTIALS_WITH_DEVICE = OpenApiExample(
    "Credentials from a device",
    description="The tokens are bound to the device: deactivating it signs them out.",
    value={"email": "alice@example.com", "password": "correct horse battery staple", "device_id": "pixel-8"},
    request_only=True,
)
SIGNED_IN = OpenApiExample(
    "Signed in",
    value={"user": EXAMPLE_USER, "access": EXAMPLE_ACCESS, "refresh": EXAMPLE_REFRESH},
    response_only=True,
    status_codes=["200", "201"],
)
PROFILE = OpenApiExample("Profile", value=EXAMPLE_USER, response_only=True)
ACCESS_TOKEN = OpenApiExample("An access token", value={"token": EXAMPLE_ACCESS}, request_only=True)
VERIFIED = OpenApiExample("Valid", value={"valid": True, "token_type": "access"}, response_only=True)
REFRESH_TOKEN = OpenApiExample("A refresh token", value={"refresh": EXAMPLE_REFRESH}, request_only=True)
TOKEN_PAIR = OpenApiExample(
    "A fresh pair", value={"access": EXAMPLE_ACCESS, "refresh": EXAMPLE_REFRESH}, response_only=True
)
PASSWORD_CHANGE = OpenApiExample(
    "New password",
    value={"old_password": "correct horse battery staple", "new_password": "battery staple horse correct"},
    request_only=True,
)
PASSWORD_CONFIRMATION = OpenApiExample(
    "Password", value={"password": "correct horse battery staple"}, request_only=True
)
