from django.contrib.admin import apps


class AdminConfig(apps.AdminConfig):
    """Django's admin, on a site whose sign-in is rate-limited like the API's."""

    default_site = "persona.admin.AdminSite"
