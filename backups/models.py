import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class UserBackupQuerySet(models.QuerySet):
    def without_payload(self):
        """Metadata only: listings stay cheap however large the backups are."""
        return self.defer("encrypted_data")


class UserBackup(models.Model):
    """One client-side-encrypted backup; the server never parses `encrypted_data`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backups")
    encrypted_data = models.TextField()
    backup_date = models.DateTimeField()
    data_size = models.PositiveBigIntegerField(help_text="Bytes of the UTF-8 payload.")
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the UTF-8 payload, lower-case hex.")
    device_id = models.CharField(max_length=255, blank=True)
    sync_version = models.PositiveBigIntegerField(null=True, blank=True)
    # The client's Idempotency-Key: a retried upload returns this backup instead of a copy.
    idempotency_key = models.CharField(max_length=255, blank=True)

    objects = UserBackupQuerySet.as_manager()

    class Meta:
        db_table = "user_backups"
        indexes = [models.Index(fields=["user", "-backup_date"], name="user_backups_newest_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="user_backups_idempotency_key_unique",
            ),
        ]

    def __str__(self):
        return f"{self.user_id} @ {self.backup_date:%Y-%m-%d %H:%M:%S}"
