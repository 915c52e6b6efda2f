from csp.middleware import CSPMiddleware
from django.conf import settings


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp with two policies: the API's `default-src 'none'` everywhere, and
    ADMIN_CONTENT_SECURITY_POLICY on the admin's pages, which load scripts and styles."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and parts.config is None and request.path_info.startswith("/admin/"):
            parts.config = settings.ADMIN_CONTENT_SECURITY_POLICY
        return parts
