from django.urls import path
from rest_framework.routers import SimpleRouter

from backups.tus import UploadDetailView, UploadListView
from backups.views import BackupViewSet

router = SimpleRouter(trailing_slash=False)
router.register("backup", BackupViewSet, basename="backup")

urlpatterns = [
    # Before the router's backup/<pk>, which would take "uploads" for an id.
    path("backup/uploads", UploadListView.as_view(), name="backup-uploads"),
    path("backup/uploads/<uuid:pk>", UploadDetailView.as_view(), name="backup-upload"),
    *router.urls,
]
