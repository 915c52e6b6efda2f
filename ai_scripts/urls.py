from rest_framework.routers import SimpleRouter

from ai_scripts.views import AIHealthViewSet, AIScriptViewSet

router = SimpleRouter(trailing_slash=False)
router.register("scripts", AIScriptViewSet, basename="ai-script")
router.register("health", AIHealthViewSet, basename="ai-health")

urlpatterns = router.urls
