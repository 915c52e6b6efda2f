from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from rest_framework.exceptions import APIException

from accounts.models import User
from persona.ratelimit import rate_limit


class AdminSignInForm(AdminAuthenticationForm):
    """The admin's sign-in, under the API's limits: per address, and per account from anywhere
    (the same counters as POST /api/auth/login, so neither door adds guesses to the other)."""

    def clean(self):
        email = User.objects.normalize_email(self.cleaned_data.get("username"))
        try:
            rate_limit(self.request, group="login-ip")
            attempt = rate_limit(self.request, group="login-email", key=email)
            cleaned_data = super().clean()
        except APIException as refusal:  # 429 over a limit, 503 when busy or the cache is down
            self.request.sign_in_refused = refusal
            raise ValidationError(str(refusal.detail), code=refusal.default_code) from None
        attempt.refund()
        return cleaned_data
