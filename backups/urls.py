from rest_framework.routers import SimpleRouter

from backups.views import BackupViewSet

router = SimpleRouter(trailing_slash=False)
router.register("backup", BackupViewSet, basename="backup")

urlpatterns = router.urls
