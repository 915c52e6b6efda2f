"""Persona Backend settings, read from environment variables.

Every variable is documented in `.env.example`. Unset variables fall back to values that
work on a fresh checkout (SQLite, local-memory cache), so one can just clone and run.
With DEBUG off, a missing secret stops start-up with a message naming the variable.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from corsheaders.defaults import default_headers as cors_default_headers
from django.core.exceptions import ImproperlyConfigured

from persona import database
from persona.rates import parse_rate

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "")
    if value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    value = os.environ.get(name, "")
    if value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    if value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_rate(name: str, default: str) -> str:
    """A rate such as "10/m" or "5/15m" (see persona.rates)."""
    value = os.environ.get(name, "") or default
    try:
        parse_rate(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a rate such as 10/m or 5/15m, got {value!r}") from None
    return value


def env_required(name: str) -> str:
    value = os.environ.get(name, "")
    if value == "":
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off")
    return value


def env_secret(name: str) -> str:
    """A required secret that is long and varied enough to sign with (HS256 wants 256 bits)."""
    value = env_required(name)
    if len(value) < 32 or len(set(value)) < 10 or value.startswith("django-insecure"):
        raise ImproperlyConfigured(
            f"{name} is too weak: use at least 32 random characters, e.g. "
            '`python -c "import secrets; print(secrets.token_urlsafe(50))"`'
        )
    return value


DEBUG = env_bool("DEBUG", False)

if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", "django-insecure-development-only-key")
    JWT_SECRET = env_str("JWT_SECRET", SECRET_KEY)
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
else:
    SECRET_KEY = env_secret("SECRET_KEY")
    JWT_SECRET = env_secret("JWT_SECRET")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off")

INSTALLED_APPS = [
    "persona.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "channels",
    "accounts",
    "sync",
    "backups",
    "ai_scripts",
]

MIDDLEWARE = [
    "persona.middleware.HeadResponseMiddleware",
    "persona.middleware.RequestLogMiddleware",
    "persona.middleware.DatabaseDeadlineMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "persona.middleware.ContentSecurityPolicyMiddleware",
    "persona.middleware.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "persona.urls"
WSGI_APPLICATION = "persona.wsgi.application"
ASGI_APPLICATION = "persona.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: PostgreSQL (psycopg 3) from DATABASE_URL, else a SQLite file next to manage.py.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=600,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # What healthchecks does, so a few devices can write at once: readers never wait for the
    # writer (WAL), a write transaction takes the lock when it begins (IMMEDIATE) rather than
    # failing half-way when it tries to upgrade, and a busy database is waited for, not an error.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_BUSY_TIMEOUT_SECONDS", 20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # The test database is a file too, so tests can race several connections against it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}

# PostgreSQL time limits, in seconds. The server cancels a statement or a lock wait past its
# limit (0: none), which the API answers as "busy"; a server that does not answer at all is
# given up on by the client a second after the statement limit (persona.database).
DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT", 2, minimum=2)
DB_STATEMENT_TIMEOUT = env_int("DB_STATEMENT_TIMEOUT", 5, minimum=0)
DB_LOCK_TIMEOUT = env_int("DB_LOCK_TIMEOUT", 2, minimum=0)
DATABASE_QUERY_DEADLINE = DB_STATEMENT_TIMEOUT + 1 if DB_STATEMENT_TIMEOUT else 0
# A round trip that does no work (the pool's check, the readiness probe) gets as long as a
# connection attempt.
DATABASE_PING_DEADLINE = DB_CONNECT_TIMEOUT
# Each gunicorn worker has a pool of up to DB_POOL_SIZE connections that its threads share; by
# default one per thread, so that no thread waits for another. The database must take them
# all: instances x workers x DB_POOL_SIZE <= max_connections - reserve. A request waits at
# most DB_POOL_TIMEOUT for a connection, then gets a 503.
DB_POOL_SIZE = env_int("DB_POOL_SIZE", env_int("GUNICORN_THREADS", 8), minimum=1)
DB_POOL_TIMEOUT = env_int("DB_POOL_TIMEOUT", 2, minimum=1)

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The pool keeps the connections, so none is kept per thread; with health checks on, it
    # checks each one it hands out.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    options = DATABASES["default"].setdefault("OPTIONS", {})
    # Sent when connecting, so a new connection runs no query (Django would set the time
    # zone with one).
    startup = f"-c statement_timeout={DB_STATEMENT_TIMEOUT}s -c lock_timeout={DB_LOCK_TIMEOUT}s"
    startup += " -c TimeZone=UTC"
    options["options"] = f"{options['options']} {startup}" if "options" in options else startup
    options["connect_timeout"] = DB_CONNECT_TIMEOUT
    options["pool"] = {
        # Grown while threads wait, so a management command holds a single connection.
        "min_size": 1,
        "max_size": DB_POOL_SIZE,
        "timeout": DB_POOL_TIMEOUT,
        # A connection that cannot be made is given up on as soon as a request would give up
        # on it, so the next request tries afresh rather than wait for a retry that backs off
        # to minutes: errors clear as soon as the database is back.
        "reconnect_timeout": DB_POOL_TIMEOUT,
        "connection_class": database.Connection,
    }
    # Parameters travel apart from the SQL text: a 10 MiB backup is sent as it is instead of
    # being quoted into a copy of the query (bench/backup_memory.py measures the difference).
    options["server_side_binding"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: shared Redis when REDIS_URL is set (rate limits and health results must be shared
# by every worker and instance), local memory otherwise. Production needs Redis, unless it
# says it runs a single process (SINGLE_PROCESS=1: one gunicorn worker, e.g. the tests' own).
REDIS_URL = env_str("REDIS_URL")
if not DEBUG and not REDIS_URL and not env_bool("SINGLE_PROCESS", False):
    raise ImproperlyConfigured(
        "REDIS_URL must be set when DEBUG is off: rate limits and caches would be per process without it"
    )
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "persona.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "persona",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# What each process computes once and keeps: the rendered API schema.
CACHES["process"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "process"}

# Live events (persona/events.py, persona/consumers.py). Redis carries them between app
# instances; without it, events reach only the sockets of the process that published them.
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Messages waiting for one socket beyond `capacity` are dropped; the socket is then
            # too slow anyway and catches up from the backlog when it reconnects.
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # Longer than the 5 s a socket's receive blocks in BZPOPMIN: redis-py's
                        # default would end that read, and with it the socket (1011).
                        "socket_timeout": 10,
                        "socket_connect_timeout": 2,
                        # Connections one worker may hold at once: every socket that opens or
                        # closes takes one briefly, and a burst beyond the limit fails.
                        "max_connections": 1000,
                    }
                ],
                "prefix": "persona:channels",
                "capacity": 100,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Events kept per user for devices that reconnect, and for how long after the last one.
EVENTS_BACKLOG = env_int("EVENTS_BACKLOG", 100, minimum=1)
EVENTS_BACKLOG_SECONDS = env_int("EVENTS_BACKLOG_SECONDS", 24 * 3600, minimum=1)
# Open sockets one app process accepts per user and per client address.
EVENTS_MAX_SOCKETS_PER_USER = env_int("EVENTS_MAX_SOCKETS_PER_USER", 10, minimum=1)
EVENTS_MAX_SOCKETS_PER_ADDRESS = env_int("EVENTS_MAX_SOCKETS_PER_ADDRESS", 100, minimum=1)
# The largest message a client may send, and how long it has to authenticate after connecting.
EVENTS_MAX_MESSAGE_BYTES = env_int("EVENTS_MAX_MESSAGE_BYTES", 4096, minimum=256)
EVENTS_AUTH_SECONDS = env_int("EVENTS_AUTH_SECONDS", 10, minimum=1)
# A socket that cannot take an event within this long (its client stopped reading) is closed.
EVENTS_SEND_SECONDS = env_int("EVENTS_SEND_SECONDS", 10, minimum=1)

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "accounts.hashers.BCryptSHA256PasswordHasher",  # 12 rounds, a bounded number at once
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# bcrypt hashes one worker process runs at once; more password checks at that moment get a 503.
PASSWORD_HASH_CONCURRENCY = env_int("PASSWORD_HASH_CONCURRENCY", 1)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.NotOnlyWhitespaceValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.TokenFamilyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["persona.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["persona.renderers.ORJSONRenderer"],
    "EXCEPTION_HANDLER": "persona.views.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "persona.pagination.CappedPagination",
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SECRET,
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env_int("JWT_ACCESS_SECONDS", 15 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 30)),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": False,
}
# A refresh token replayed this soon after its rotation still gets a pair (apps double-send);
# later it counts as stolen and its whole family is revoked.
JWT_REFRESH_GRACE_SECONDS = env_int("JWT_REFRESH_GRACE_SECONDS", 10)

# OpenAPI schema at /api/schema, docs at /api/docs; the docs page's assets come from the
# sidecar package, so it works offline.
SPECTACULAR_SETTINGS = {
    "TITLE": "Persona Backend API",
    "DESCRIPTION": "Accounts, device sync status, encrypted backups, AI prompt templates, the AI "
    "relay and the remote app configuration for the Persona mobile app.\n\nLive events (a "
    "WebSocket at `/ws/events`, which OpenAPI cannot describe): how to connect, every event's "
    "fields and the close codes are in the "
    'README\'s "Live events (WebSocket)" section.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Component names become class names in generated clients: no bare "CodeEnum".
    # tus's HEAD, which drf-spectacular never lists (backups.schema).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "backups.schema.add_upload_offset_operation",
        "ai_scripts.schema.add_relay_operations",
    ],
    "ENUM_NAME_OVERRIDES": {
        "SyncConflictCodeEnum": "sync.services.RejectionCode",
        "ReadinessCheckEnum": "persona.schema.CHECK_RESULTS",
        "AIServiceHealthStatusEnum": "ai_scripts.serializers.UP_DOWN",
    },
}

# Rate limits (count/period, e.g. "10/m", "5/15m", "100/h"), as sliding windows (persona.ratelimit).
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
RATE_LIMITS = {
    # Every password check from one address: API and admin sign-in, password change, deletion.
    "login-ip": env_rate("RATELIMIT_LOGIN_IP", "30/m"),
    # Sign-ins to one account from anywhere (API and admin); a right password is not counted.
    "login-email": env_rate("RATELIMIT_LOGIN_EMAIL", "10/15m"),
    # A signed-in user's password confirmations (change, deletion): a stolen access token
    # must not become a way to guess the password. A right password is not counted.
    "password-user": env_rate("RATELIMIT_PASSWORD_USER", "10/15m"),
    "register-ip": env_rate("RATELIMIT_REGISTER_IP", "10/h"),
    "refresh-ip": env_rate("RATELIMIT_REFRESH_IP", "60/m"),
    "verify-ip": env_rate("RATELIMIT_VERIFY_IP", "120/m"),
    "backup-user": env_rate("RATELIMIT_BACKUP_USER", "20/h"),
}
# How many proxies in front of the app append to X-Forwarded-For (0: trust REMOTE_ADDR only).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# Backups: payload bytes live in the "backups" storage (STORAGES below), metadata in the
# database. The largest backup (a tus upload), the largest sent inside a JSON body, each
# user's quota (kept backups + uploads in progress), unfinished uploads per user, how long an
# unfinished upload lives, and how many backups each user keeps.
BACKUP_MAX_BYTES = env_int("BACKUP_MAX_BYTES", 1024**3, minimum=1)
BACKUP_JSON_MAX_BYTES = env_int("BACKUP_JSON_MAX_BYTES", 10 * 1024 * 1024, minimum=1)
BACKUP_QUOTA_BYTES = env_int("BACKUP_QUOTA_BYTES", 5 * 1024**3, minimum=1)
BACKUP_UPLOADS_PER_USER = env_int("BACKUP_UPLOADS_PER_USER", 2, minimum=1)
BACKUP_UPLOAD_EXPIRY_SECONDS = env_int("BACKUP_UPLOAD_EXPIRY_SECONDS", 24 * 3600, minimum=60)
BACKUP_KEEP = env_int("BACKUP_KEEP", 10)
# Where payloads are stored: an S3-compatible bucket when BACKUP_S3_BUCKET is set (keys from
# BACKUP_S3_ACCESS_KEY_ID / BACKUP_S3_SECRET_ACCESS_KEY, else boto3's own chain: AWS_*
# variables, an instance role), otherwise a folder (BACKUP_STORAGE_DIR, default next to the
# SQLite file).
BACKUP_S3_BUCKET = env_str("BACKUP_S3_BUCKET")
BACKUP_STORAGE_DIR = env_str("BACKUP_STORAGE_DIR", str(BASE_DIR / "backup-payloads"))
# Downloads from S3 answer with a redirect to a presigned URL valid this many seconds instead
# of passing the bytes through the app (0: through the app).
BACKUP_S3_PRESIGNED_SECONDS = env_int("BACKUP_S3_PRESIGNED_SECONDS", 0, minimum=0)
if BACKUP_S3_BUCKET:
    # Imported only here: botocore adds a tenth of a second to the start of every process.
    from botocore.config import Config as BotoConfig

    BACKUP_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BACKUP_S3_BUCKET,
            "endpoint_url": env_str("BACKUP_S3_ENDPOINT_URL") or None,
            "region_name": env_str("BACKUP_S3_REGION", "us-east-1"),
            "access_key": env_str("BACKUP_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("BACKUP_S3_SECRET_ACCESS_KEY") or None,
            "location": env_str("BACKUP_S3_PREFIX"),
            "file_overwrite": True,
            "default_acl": None,
            "querystring_expire": BACKUP_S3_PRESIGNED_SECONDS or 300,
            "client_config": BotoConfig(
                signature_version="s3v4",
                s3={"addressing_style": env_str("BACKUP_S3_ADDRESSING_STYLE", "auto")},
                # Only when an operation needs one: S3-compatible servers differ in the rest.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        },
    }
else:
    BACKUP_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": BACKUP_STORAGE_DIR, "allow_overwrite": True},
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "backups": BACKUP_STORAGE,
}
# Backup uploads and payload downloads in flight at once: per worker process (more get a 503)
# and per user across every worker (more get a 429). See backups.transfers.
BACKUP_TRANSFERS_PER_WORKER = env_int("BACKUP_TRANSFERS_PER_WORKER", 2)
BACKUP_TRANSFERS_PER_USER = env_int("BACKUP_TRANSFERS_PER_USER", 2)

# How long AI service health results are cached, so clients cannot hammer the upstreams.
AI_HEALTH_CACHE_SECONDS = env_int("AI_HEALTH_CACHE_SECONDS", 30)

# The AI relay (/api/ai/v1, ai_scripts.relay). Budgets per user, per UTC day and month, that
# AI budgets in the admin override per user; 0 is no limit.
AI_RELAY_REQUESTS_PER_DAY = env_int("AI_RELAY_REQUESTS_PER_DAY", 500, minimum=0)
AI_RELAY_REQUESTS_PER_MONTH = env_int("AI_RELAY_REQUESTS_PER_MONTH", 5000, minimum=0)
AI_RELAY_TOKENS_PER_DAY = env_int("AI_RELAY_TOKENS_PER_DAY", 200_000, minimum=0)
AI_RELAY_TOKENS_PER_MONTH = env_int("AI_RELAY_TOKENS_PER_MONTH", 2_000_000, minimum=0)
# Relayed requests one user may have in flight at once, across every instance.
AI_RELAY_STREAMS_PER_USER = env_int("AI_RELAY_STREAMS_PER_USER", 4, minimum=1)
# What one chat request may hold: its body, its messages, the characters of their text, and
# the completion tokens it may ask for (also the default when it asks for none).
AI_RELAY_MAX_BODY_BYTES = env_int("AI_RELAY_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
AI_RELAY_MAX_MESSAGES = env_int("AI_RELAY_MAX_MESSAGES", 200, minimum=1)
AI_RELAY_MAX_PROMPT_CHARS = env_int("AI_RELAY_MAX_PROMPT_CHARS", 400_000, minimum=1)
AI_RELAY_MAX_COMPLETION_TOKENS = env_int("AI_RELAY_MAX_COMPLETION_TOKENS", 4096, minimum=1)

CORS_ALLOWED_ORIGINS = env_list("ALLOWED_ORIGINS", [])
# A web page may send and read the headers of resumable uploads (tus) and downloads.
CORS_ALLOW_HEADERS = (
    *cors_default_headers,
    "idempotency-key",
    "tus-resumable",
    "upload-checksum",
    "upload-length",
    "upload-metadata",
    "upload-offset",
)
CORS_EXPOSE_HEADERS = [
    "Backup-Id",
    "Content-Range",
    "ETag",
    "Location",
    "Retry-After",
    "Tus-Resumable",
    "Tus-Version",
    "Upload-Expires",
    "Upload-Length",
    "Upload-Offset",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# The only static files are the admin's, found in the installed packages: whitenoise serves
# them straight from the packages, so deploys need no collectstatic step.
STATIC_URL = "static/"
WHITENOISE_USE_FINDERS = True

# Production hardening. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=1 so Django
# trusts its X-Forwarded-Proto header.
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^health"]  # load balancers probe over plain HTTP
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# The API serves JSON only: nothing may load from its responses. The HTML pages (admin and
# API docs) get what they need from this server (persona.middleware, not django-csp).
API_CONTENT_SECURITY_POLICY = {
    "default-src": ["'none'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'none'"],
}
PAGES_CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
}

# Structured logs: one JSON object per line on stderr, for the platform's log collector.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "persona.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Client errors are already in the request log; keep Django from logging them twice.
        "django.request": {"level": "ERROR"},
        # A foreign Host header is a 400 in the request log, not an error with a traceback.
        "django.security.DisallowedHost": {"level": "CRITICAL"},
        # The relay's HTTP client logs each request with its URL, which may hold a key.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
