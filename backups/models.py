import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class UserBackup(models.Model):
    """One client-side-encrypted backup. Its bytes live in the "backups" storage under
    `storage_key` (backups.storage); the server never parses them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backups")
    storage_key = models.CharField(max_length=255, help_text="Where the payload is stored.")
    backup_date = models.DateTimeField()
    data_size = models.PositiveBigIntegerField(help_text="Bytes of the payload.")
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the payload, lower-case hex.")
    device_id = models.CharField(max_length=255, blank=True)
    sync_version = models.PositiveBigIntegerField(null=True, blank=True)
    # The client's Idempotency-Key: a retried upload returns this backup instead of a copy.
    idempotency_key = models.CharField(max_length=255, blank=True)

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


class BackupUpload(models.Model):
    """A resumable (tus) upload: its bytes so far are in the "backups" storage, its progress
    here, so any app instance can take the next piece. Once complete it points at the backup
    it became, and stays until it expires so that a client that missed the last answer can
    still ask for its offset."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backup_uploads"
    )
    length = models.PositiveBigIntegerField(help_text="Bytes the client declared.")
    offset = models.PositiveBigIntegerField(default=0, help_text="Bytes received and stored.")
    checksum = models.CharField(max_length=64, help_text="Declared SHA-256 of the payload, lower-case hex.")
    device_id = models.CharField(max_length=255, blank=True)
    sync_version = models.PositiveBigIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    # What the storage needs to go on (an S3 multipart upload's id and parts); see backups.storage.
    storage_state = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    # One request appends at a time: it holds this lease (renewed while it runs).
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    backup = models.ForeignKey(UserBackup, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "backup_uploads"
        indexes = [models.Index(fields=["expires_at"], name="backup_uploads_expiry_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="backup_uploads_idempotency_key_unique",
            ),
        ]

    def __str__(self):
        return f"{self.user_id}: {self.offset} of {self.length} bytes"

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None
