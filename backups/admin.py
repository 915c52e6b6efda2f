from django.contrib import admin

from backups.models import UserBackup

METADATA = ["user", "backup_date", "data_size", "checksum", "device_id", "sync_version"]


@admin.register(UserBackup)
class UserBackupAdmin(admin.ModelAdmin):
    """Metadata only: the payload is encrypted, useless to staff, and may be megabytes."""

    list_display = METADATA
    list_select_related = ["user"]
    search_fields = ["user__email", "device_id", "checksum"]
    ordering = ["-backup_date"]
    fields = METADATA
    readonly_fields = METADATA

    def get_queryset(self, request):
        return super().get_queryset(request).without_payload()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
