from django.core.exceptions import ValidationError


class NotOnlyWhitespaceValidator:
    """A password of spaces alone is as easy to guess as no password (Django's own validators
    count its length and nothing else about it)."""

    def validate(self, password, user=None):
        if not password.strip():
            raise ValidationError("This password is only whitespace.", code="password_only_whitespace")

    def get_help_text(self):
        return "Your password can't be only whitespace."
