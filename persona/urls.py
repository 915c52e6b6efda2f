from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.cache import cache_page
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from ai_scripts.views import AppConfigView
from persona import views

SCHEMA_CACHE_SECONDS = 60 * 60

urlpatterns = [
    path("health", views.health),
    path("health/ready", views.health_ready),
    path("admin/", admin.site.urls),
    path("api/auth/", include("accounts.urls")),
    path("api/sync/", include("sync.urls")),
    path("api/sync/", include("backups.urls")),
    path("api/ai/", include("ai_scripts.urls")),
    # Remote app configuration belongs to AI orchestration (ai_scripts), at the path apps call.
    path("api/config/app-config", AppConfigView.as_view(), name="app-config"),
    # Building the schema takes tens of milliseconds and it only changes with the code.
    path(
        "api/schema",
        cache_page(SCHEMA_CACHE_SECONDS, cache="process")(SpectacularAPIView.as_view()),
        name="schema",
    ),
    path("api/docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    # Anything else under /api/ is a JSON 404, also with DEBUG on.
    re_path(r"^api/", views.api_not_found),
]

handler400 = "persona.views.bad_request"
handler404 = "persona.views.not_found"
handler500 = "persona.views.server_error"
