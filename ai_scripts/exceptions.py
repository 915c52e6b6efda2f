"""The relay's errors, answered in OpenAI's error shape so that the OpenAI SDKs raise their
usual exceptions (BadRequestError, RateLimitError, APIStatusError ...)."""

from datetime import datetime


class RelayError(Exception):
    """A relayed request that ends in an error answer: `{"error": {message, type, code, param}}`.

    The message is the server's own words: never an upstream's error text or URL.
    """

    type = "invalid_request_error"

    def __init__(self, message: str, *, status: int = 400, code: str, param: str | None = None):
        super().__init__(message)
        self.message, self.status, self.code, self.param = message, status, code, param
        self.headers: dict[str, str] = {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "code": self.code, "param": self.param}}


class Unauthenticated(RelayError):
    type = "authentication_error"

    def __init__(self, message="A valid access token is required as the bearer token."):
        super().__init__(message, status=401, code="invalid_token")


class OverBudget(RelayError):
    """429 until `reset_at`: the SDKs are told not to retry (x-should-retry), since a retry
    within seconds cannot succeed."""

    type = "insufficient_quota"

    def __init__(self, message: str, *, code: str, reset_at: datetime, retry_after: int):
        super().__init__(message, status=429, code=code)
        self.reset_at = reset_at
        self.headers = {"Retry-After": str(retry_after), "x-should-retry": "false"}

    def body(self) -> dict:
        body = super().body()
        body["error"]["reset_at"] = self.reset_at.isoformat().replace("+00:00", "Z")
        return body


class TooManyStreams(RelayError):
    type = "rate_limit_error"

    def __init__(self, limit: int):
        super().__init__(
            f"At most {limit} AI requests per account run at once; wait for one to end.",
            status=429,
            code="too_many_concurrent_requests",
        )
        self.headers = {"Retry-After": "1"}


class UpstreamFailed(RelayError):
    """Every provider of the alias failed before answering: 502 (an error), 503 (none could
    be reached or all are busy) or 504 (all timed out)."""

    type = "api_error"


class BackingServiceDown(RelayError):
    """The database or the cache failed (persona.views.service_unavailable_for): a 503 with
    Retry-After, in this shape too."""

    type = "api_error"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message, status=503, code="service_unavailable")
        self.headers = {"Retry-After": str(retry_after)}
