from django.contrib import admin

from persona.admin import ReadOnlyModelAdmin
from sync.models import UserSyncStatus


@admin.register(UserSyncStatus)
class UserSyncStatusAdmin(ReadOnlyModelAdmin):
    """Read-only: rows change only through the API, which keeps each user's device_count."""

    list_display = ["device_id", "user", "sync_version", "is_active", "synced_at", "last_sync_timestamp"]
    list_filter = ["is_active"]
    search_fields = ["user__email", "device_id"]
    list_select_related = ["user"]
    ordering = ["-synced_at"]
