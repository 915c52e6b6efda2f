import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

# Active devices one account may have at once: far more than a person owns, few enough that a
# careless or hostile client cannot grow one account's rows without end.
MAX_ACTIVE_DEVICES = 100
DEVICE_LIMIT_CONSTRAINT = "users_device_count_within_limit"


class UserManager(BaseUserManager):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email):
        # Emails are stored lower-case so that lookups hit the unique index.
        return (email or "").strip().lower()

    def get_by_natural_key(self, username):
        return self.get(email=self.normalize_email(username))

    def create_user(self, email, password=None, **extra_fields):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_sync = models.DateTimeField(null=True, blank=True)
    device_count = models.PositiveIntegerField(default=0)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        db_table = "users"
        constraints = [
            # The app stores emails lower-case; this keeps the database itself from ever
            # holding two addresses that differ only in case, whoever writes the row.
            models.UniqueConstraint(Lower("email"), name="users_email_case_insensitive_unique"),
            # device_count moves with every device that becomes active or inactive, so the
            # database refuses the report that would make one too many, however many race.
            models.CheckConstraint(
                condition=models.Q(device_count__lte=MAX_ACTIVE_DEVICES), name=DEVICE_LIMIT_CONSTRAINT
            ),
        ]

    def __str__(self):
        return self.email


class TokenFamily(models.Model):
    """One sign-in: every refresh token rotated from one login or registration.

    Each JWT names its family (`fam` claim). Revoking the family kills all of its access and
    refresh tokens at once, which is how logout, logout-all, password change and device
    sign-out work without a token blacklist.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="token_families")
    device_id = models.CharField(max_length=255, blank=True)
    current_jti = models.CharField(max_length=64)
    previous_jti = models.CharField(max_length=64, blank=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "token_families"
        verbose_name_plural = "token families"
        indexes = [models.Index(fields=["user", "device_id"]), models.Index(fields=["expires_at"])]

    def __str__(self):
        return f"{self.user_id} / {self.device_id or 'no device'}"
