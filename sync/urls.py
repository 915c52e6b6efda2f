from rest_framework.routers import SimpleRouter

from sync.views import SyncStatusViewSet

router = SimpleRouter(trailing_slash=False)
router.register("status", SyncStatusViewSet, basename="sync-status")

urlpatterns = router.urls
