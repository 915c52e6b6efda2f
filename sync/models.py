import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

# The largest value PostgreSQL's bigint (and SQLite's integer) can hold.
MAX_SYNC_VERSION = 2**63 - 1


class UserSyncStatus(models.Model):
    """What one of a user's devices last reported about its data.

    `sync_version` only grows (the service refuses older versions); `synced_at` is the
    server's time of the last accepted report and orders the device list, because device
    clocks cannot be trusted. `last_sync_timestamp` is the device's own claim, kept as sent.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: the unique (user, device_id) index leads with the user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sync_statuses", db_index=False
    )
    device_id = models.CharField(max_length=255)
    sync_version = models.BigIntegerField()
    data_hash = models.CharField(max_length=255)
    last_sync_timestamp = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "user_sync_status"
        verbose_name = "device sync status"
        verbose_name_plural = "device sync statuses"
        constraints = [
            # One row per device: concurrent first reports cannot both insert.
            models.UniqueConstraint(fields=["user", "device_id"], name="user_sync_status_user_device_unique"),
            models.CheckConstraint(
                condition=models.Q(sync_version__gte=0), name="user_sync_status_sync_version_not_negative"
            ),
        ]
        indexes = [
            # The device list: one user's rows, newest first.
            models.Index(fields=["user", "-synced_at", "device_id"], name="user_sync_status_newest"),
        ]

    def __str__(self):
        return f"{self.user_id} / {self.device_id}"
