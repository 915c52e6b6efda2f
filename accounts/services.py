"""Accounts rules: registration, sign-in, and the token families behind every JWT.

Every access and refresh token names its family (`fam` claim). A family is alive while its
row is not revoked and its user is active; refresh rotates the family's one current refresh
token. Revoking families is how logout, logout-all, password change, account deletion and
device sign-out make tokens die at once.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken, Token, UntypedToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.models import TokenFamily, User
from backups.services import backups_delete_for_user
from persona import events
from persona.exceptions import Conflict

CURRENT, GRACE, STALE = "current", "grace", "stale"


def user_register(*, email: str, password: str, device_id: str = "") -> tuple[User, dict]:
    _validate_password(password, user=User(email=email), field="password")
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password)
            tokens = token_family_start(user=user, device_id=device_id)
    except IntegrityError:
        raise Conflict("This email is already registered.", code="email_taken") from None
    return user, tokens


def user_authenticate(*, request: HttpRequest, email: str, password: str) -> User:
    """The user with these credentials; one 401 for an unknown email, a wrong password
    or an inactive account, so the answer tells an attacker nothing."""
    user = authenticate(request, email=email, password=password)
    if user is None:
        raise AuthenticationFailed("Invalid email or password.", code="invalid_credentials")
    return user


def user_change_password(*, user: User, token: Token, old_password: str, new_password: str) -> dict:
    """Sets a new password, kills every earlier token and returns a fresh pair for the device
    the request's token was bound to."""
    if not user.check_password(old_password):
        raise ValidationError({"old_password": ["The password is wrong."]})
    _validate_password(new_password, user=user, field="new_password")
    with transaction.atomic():
        family = TokenFamily.objects.filter(pk=_uuid_or_none(token.get("fam")), user=user).first()
        user.set_password(new_password)
        user.save(update_fields=["password"])
        token_families_revoke(user=user)
        return token_family_start(user=user, device_id=family.device_id if family else "")


def user_delete(*, user: User, password: str) -> None:
    """Deletes the account; devices, backups and token families go with it (CASCADE)."""
    if not user.check_password(password):
        raise ValidationError({"password": ["The password is wrong."]})
    user_id = user.pk
    with transaction.atomic():
        backups_delete_for_user(user_id=user_id)
        user.delete()
        events.sessions_changed(user_ids=[user_id])


def users_deactivate(*, users: QuerySet[User]) -> int:
    """Deactivates the users and revokes their tokens, so reactivating them later does not
    bring old sign-ins back; returns how many were active."""
    with transaction.atomic():
        count = users.filter(is_active=True).update(is_active=False)
        TokenFamily.objects.filter(user__in=users, revoked_at__isnull=True).update(revoked_at=timezone.now())
        events.sessions_changed(user_ids=users.values_list("pk", flat=True))
    return count


def token_family_start(*, user: User, device_id: str = "") -> dict:
    family = TokenFamily(user=user, device_id=device_id, current_jti=_new_jti())
    tokens = _mint(family)
    family.save(force_insert=True)
    return tokens


# The query every authenticated request makes, as SQL written once: building it through the
# ORM (select_related and four filters) on every request cost authenticated reads throughput
# that counts (bench/README.md). Manager.raw() maps the columns to a User as the ORM would.
_USER_OF_LIVE_FAMILY = (
    "SELECT u.* FROM users u INNER JOIN token_families f ON f.user_id = u.id"
    " WHERE f.id = %s AND u.id = %s AND f.revoked_at IS NULL AND u.is_active"
)


def token_user(token: Token) -> User | None:
    """The user of an access token whose family is alive; None when it is revoked or gone,
    or the user inactive or deleted."""
    family_id = _uuid_or_none(token.get("fam"))
    user_id = _uuid_or_none(token.get(api_settings.USER_ID_CLAIM))
    if family_id is None or user_id is None:
        return None
    pk = User._meta.pk
    params = [pk.get_db_prep_value(family_id, connection), pk.get_db_prep_value(user_id, connection)]
    return next(iter(User.objects.raw(_USER_OF_LIVE_FAMILY, params)), None)


def token_family_get(token: Token, *, lock: bool = False) -> TokenFamily | None:
    """The token's family with its user while it is alive; None when it is revoked or gone,
    or its user inactive or deleted."""
    family_id = _uuid_or_none(token.get("fam"))
    user_id = _uuid_or_none(token.get(api_settings.USER_ID_CLAIM))
    if family_id is None or user_id is None:
        return None
    families = TokenFamily.objects.select_related("user").filter(
        pk=family_id, user_id=user_id, revoked_at__isnull=True, user__is_active=True
    )
    if lock:
        families = families.select_for_update(of=("self",))
    return families.first()


def token_refresh(*, refresh: str) -> dict:
    """Rotates a refresh token: a new pair, and the old refresh token dies.

    A replay within the grace window (apps double-send) gets a pair holding the family's
    current refresh token, so concurrent refreshes never fork the family. A replay after
    it means the token was stolen: the whole family is revoked.
    """
    token = token_decode(RefreshToken, refresh)
    with transaction.atomic():
        family = token_family_get(token, lock=True)
        if family is None:
            raise InvalidToken()
        state = _refresh_state(family, token[api_settings.JTI_CLAIM])
        if state != STALE:
            if state == CURRENT:
                family.previous_jti, family.current_jti = family.current_jti, _new_jti()
                family.rotated_at = timezone.now()
            tokens = _mint(family)
            family.save(update_fields=["previous_jti", "current_jti", "rotated_at", "expires_at"])
            return tokens
        family.revoked_at = timezone.now()
        family.save(update_fields=["revoked_at"])
        events.sessions_changed(user_ids=[family.user_id])
    raise InvalidToken("This refresh token was already used; sign in again.")


def token_verify(*, token: str) -> str:
    """The type of a live token ("access" or "refresh"); 401 for anything else."""
    parsed = token_decode(UntypedToken, token)
    token_type = parsed.get(api_settings.TOKEN_TYPE_CLAIM)
    family = token_family_get(parsed)
    if family is None or token_type not in ("access", "refresh"):
        raise InvalidToken()
    if token_type == "refresh" and _refresh_state(family, parsed[api_settings.JTI_CLAIM]) == STALE:
        raise InvalidToken()
    return token_type


def token_family_revoke(*, user: User, refresh: str) -> None:
    """Logout: revokes the family of this refresh token. Logging out twice is fine."""
    try:
        token = token_decode(RefreshToken, refresh)
    except InvalidToken:
        raise ValidationError({"refresh": ["Token is invalid or expired."]}) from None
    family_id = _uuid_or_none(token.get("fam"))
    families = TokenFamily.objects.filter(pk=family_id, user=user)
    revoked = families.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked:
        events.sessions_changed(user_ids=[user.pk])
    elif not families.exists():
        raise ValidationError({"refresh": ["Token is invalid or expired."]})


def token_families_revoke(*, user: User, device_id: str | None = None) -> int:
    """Revokes every live family of the user (or of one of their devices)."""
    families = TokenFamily.objects.filter(user=user, revoked_at__isnull=True)
    if device_id is not None:
        families = families.filter(device_id=device_id)
    revoked = families.update(revoked_at=timezone.now())
    if revoked:
        events.sessions_changed(user_ids=[user.pk])
    return revoked


def _validate_password(password: str, *, user: User, field: str) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as error:
        raise ValidationError({field: list(error.messages)}) from None


def _refresh_state(family: TokenFamily, jti: str) -> str:
    if jti == family.current_jti:
        return CURRENT
    grace = timedelta(seconds=settings.JWT_REFRESH_GRACE_SECONDS)
    if jti == family.previous_jti and timezone.now() - family.rotated_at <= grace:
        return GRACE
    return STALE


def _mint(family: TokenFamily) -> dict:
    refresh = RefreshToken()
    refresh[api_settings.JTI_CLAIM] = family.current_jti
    refresh[api_settings.USER_ID_CLAIM] = str(family.user_id)
    refresh["fam"] = str(family.pk)
    family.expires_at = datetime_from_epoch(refresh["exp"])
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def token_decode(token_class: type[Token], raw: str | bytes) -> Token:
    """The token, checked (signature, expiry, type) by simplejwt; 401 for anything else.
    A validly signed `exp` beyond the calendar makes simplejwt overflow: that is a 401 too."""
    try:
        return token_class(raw)
    except (TokenError, OverflowError, ValueError, OSError):
        raise InvalidToken() from None


def _new_jti() -> str:
    return uuid.uuid4().hex


def _uuid_or_none(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
