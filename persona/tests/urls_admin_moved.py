"""The project's routes with the admin mounted at /staff/ instead of /admin/."""

from django.contrib import admin
from django.urls import path

from persona.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("staff/", admin.site.urls)] + [
    pattern for pattern in project_urlpatterns if str(pattern.pattern) != "admin/"
]
