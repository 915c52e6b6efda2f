from django.contrib import admin
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from backups import services, uploads
from backups.models import BackupUpload, UserBackup

METADATA = ["user", "backup_date", "size", "checksum", "device_id", "sync_version"]


@admin.register(UserBackup)
class UserBackupAdmin(admin.ModelAdmin):
    """Metadata only: the payload is encrypted, useless to staff, and lives in storage."""

    list_display = METADATA
    list_select_related = ["user"]
    list_filter = ["backup_date"]
    date_hierarchy = "backup_date"
    search_fields = ["user__email", "device_id", "checksum"]
    ordering = ["-backup_date"]
    fields = [*METADATA, "storage_key"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="size", ordering="data_size")
    def size(self, backup):
        return filesizeformat(backup.data_size)

    def delete_model(self, request, obj):
        services.backup_delete(backup=obj)

    def delete_queryset(self, request, queryset):
        for backup in queryset:
            services.backup_delete(backup=backup)


class UploadState(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("unfinished", "Unfinished"), ("expired", "Expired"), ("complete", "Complete")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "unfinished":
            return queryset.filter(completed_at=None, expires_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now)
        if self.value() == "complete":
            return queryset.exclude(completed_at=None)
        return queryset


@admin.register(BackupUpload)
class BackupUploadAdmin(admin.ModelAdmin):
    """Resumable uploads: staff see progress and clean up expired ones (as the
    `expire_backup_uploads` command does)."""

    list_display = ["user", "created_at", "progress", "state", "expires_at", "device_id", "sync_version"]
    list_select_related = ["user"]
    list_filter = [UploadState]
    search_fields = ["user__email", "device_id"]
    ordering = ["-created_at"]
    fields = [
        "user",
        "created_at",
        "progress",
        "state",
        "expires_at",
        "checksum",
        "device_id",
        "sync_version",
    ]
    readonly_fields = fields
    actions = ["delete_expired"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="received")
    def progress(self, upload):
        return f"{filesizeformat(upload.offset)} of {filesizeformat(upload.length)}"

    @admin.display(description="state")
    def state(self, upload):
        if upload.is_complete:
            return "complete"
        return "expired" if upload.expires_at <= timezone.now() else "unfinished"

    def delete_model(self, request, obj):
        uploads.upload_cancel(upload=obj)

    def delete_queryset(self, request, queryset):
        for upload in queryset:
            uploads.upload_cancel(upload=upload)

    @admin.action(description="Delete every expired upload (not only the selected ones)")
    def delete_expired(self, request, queryset):
        count = uploads.uploads_expire()
        self.message_user(request, f"Deleted {count} expired upload(s).")
