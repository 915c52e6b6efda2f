from django.urls import path
from rest_framework.routers import SimpleRouter

from ai_scripts import relay
from ai_scripts.views import AIHealthViewSet, AIScriptViewSet

router = SimpleRouter(trailing_slash=False)
router.register("scripts", AIScriptViewSet, basename="ai-script")
router.register("health", AIHealthViewSet, basename="ai-health")

urlpatterns = [
    # OpenAI-compatible: an OpenAI SDK's base URL is /api/ai/v1.
    path("v1/chat/completions", relay.chat_completions, name="ai-relay-chat"),
    path("v1/models", relay.models_list, name="ai-relay-models"),
    *router.urls,
]
