import math

from django.contrib import admin

from accounts.forms import AdminSignInForm


class AdminSite(admin.AdminSite):
    login_form = AdminSignInForm

    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        # The form refused to check the password (rate limit, busy server): say so in the status.
        refusal = getattr(request, "sign_in_refused", None)
        if refusal is not None:
            response.status_code = refusal.status_code
            wait = getattr(refusal, "wait", None) or getattr(refusal, "retry_after", None)
            if wait:
                response["Retry-After"] = str(math.ceil(wait))
        return response


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Rows only the app writes: staff read them here, nobody adds, edits or deletes them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
