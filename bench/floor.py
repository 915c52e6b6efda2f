"""The floor: the benchmarked routes as a bare WSGI callable, doing the app's SQL and checks.

    gunicorn bench.floor:application --config gunicorn.conf.py

No framework: psycopg 3 with one persistent connection per thread, PyJWT, orjson, redis
for the scripts' ETag stamp (as the app keeps it), and semver for the app configuration's
minimum version. Each route runs the statements the app runs (the suite counts them on the
wire), checks the same JWT claims and answers with the same JSON shape, so whatever the app
costs above this is framework overhead.
Backup payloads are files in the app's storage folder (BACKUP_STORAGE_DIR) under the app's
keys, their rows carry the key, as the app's filesystem storage keeps them.
Only what the benchmark sends is handled; anything else is a 404.
"""

import contextlib
import hashlib
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import bcrypt
import jwt
import orjson
import psycopg
import redis
import semver

from sync.sql import REPORT_SQL

DATABASE_URL = os.environ["DATABASE_URL"]
JWT_SECRET = os.environ["JWT_SECRET"]
ACCESS_SECONDS = int(os.environ.get("JWT_ACCESS_SECONDS", 15 * 60))
REFRESH_SECONDS = int(os.environ.get("JWT_REFRESH_DAYS", 30)) * 86400
BACKUP_KEEP = int(os.environ.get("BACKUP_KEEP", 10))
BACKUP_JSON_MAX_BYTES = int(os.environ.get("BACKUP_JSON_MAX_BYTES", 10 * 1024 * 1024))
# The app's default folder (persona.settings) unless the environment names another.
BACKUP_STORAGE_DIR = Path(
    os.environ.get("BACKUP_STORAGE_DIR") or Path(__file__).resolve().parent.parent / "backup-payloads"
)
STARTED_AT = time.monotonic()
cache = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9"))
local = threading.local()

FAMILY_AND_USER = """
SELECT f.id, f.user_id, f.device_id, f.current_jti, f.previous_jti, f.rotated_at, f.created_at,
       f.expires_at, f.revoked_at, u.password, u.last_login, u.is_superuser, u.id, u.email,
       u.is_active, u.is_staff, u.created_at, u.last_sync, u.device_count
FROM token_families f INNER JOIN users u ON f.user_id = u.id
WHERE f.id = %s AND f.revoked_at IS NULL AND u.is_active AND f.user_id = %s
ORDER BY f.id ASC LIMIT 1
"""
DEVICE_COLUMNS = "id, user_id, device_id, sync_version, data_hash, last_sync_timestamp, synced_at, is_active"
BACKUP_META = "id, user_id, backup_date, data_size, checksum, device_id, sync_version, idempotency_key"


class HttpError(Exception):
    def __init__(self, status: str, detail: str):
        self.status, self.detail = status, detail


def db() -> psycopg.Connection:
    conn = getattr(local, "conn", None)
    if conn is None or conn.closed:
        conn = local.conn = psycopg.connect(DATABASE_URL, autocommit=True)
    return conn


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def authenticate(environ) -> tuple:
    header = environ.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Bearer "):
        raise HttpError("401 Unauthorized", "Authentication credentials were not provided.")
    try:
        claims = jwt.decode(header[7:], JWT_SECRET, algorithms=["HS256"])
        if claims.get("token_type") != "access":
            raise ValueError
        family, user = uuid.UUID(claims["fam"]), uuid.UUID(claims["user_id"])
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise HttpError("401 Unauthorized", "Given token not valid for any token type") from None
    row = db().execute(FAMILY_AND_USER, (family, user)).fetchone()
    if row is None:
        raise HttpError("401 Unauthorized", "Token is invalid or revoked.")
    return row


def health(environ):
    return "200 OK", {
        "status": "OK",
        "message": "Persona Backend - Ultra-lightweight server",
        "timestamp": datetime.now(UTC).isoformat(),
        "uptime": round(time.monotonic() - STARTED_AT, 3),
    }


def login(environ):
    body = orjson.loads(read_body(environ))
    email, password = body["email"].strip().lower(), body["password"]
    conn = db()
    user = conn.execute(
        "SELECT password, last_login, is_superuser, id, email, is_active, is_staff, created_at, last_sync,"
        " device_count FROM users WHERE email = %s LIMIT 21",
        (email,),
    ).fetchone()
    hashed = user[0].removeprefix("bcrypt_sha256$").encode() if user else b""
    digest = hashlib.sha256(password.encode()).hexdigest().encode()
    if user is None or not user[5] or not bcrypt.checkpw(digest, hashed):
        raise HttpError("401 Unauthorized", "Invalid email or password.")
    family, jti, now = uuid.uuid4(), uuid.uuid4().hex, datetime.now(UTC)
    claims = {"user_id": str(user[3]), "fam": str(family)}
    refresh_exp = int(now.timestamp()) + REFRESH_SECONDS
    refresh = jwt.encode(
        {"token_type": "refresh", "exp": refresh_exp, "iat": int(now.timestamp()), "jti": jti, **claims},
        JWT_SECRET,
        algorithm="HS256",
    )
    access = jwt.encode(
        {
            "token_type": "access",
            "exp": int(now.timestamp()) + ACCESS_SECONDS,
            "iat": int(now.timestamp()),
            "jti": uuid.uuid4().hex,
            **claims,
        },
        JWT_SECRET,
        algorithm="HS256",
    )
    conn.execute(
        "INSERT INTO token_families (id, user_id, device_id, current_jti, previous_jti, rotated_at,"
        " created_at, expires_at, revoked_at) VALUES (%s, %s, %s, %s, '', NULL, %s, %s, NULL)",
        (family, user[3], body.get("device_id", ""), jti, now, datetime.fromtimestamp(refresh_exp, UTC)),
    )
    profile = {
        "id": str(user[3]),
        "email": user[4],
        "created_at": iso(user[7]),
        "last_sync": iso(user[8]),
        "device_count": user[9],
    }
    return "200 OK", {"user": profile, "access": access, "refresh": refresh}


rendered: dict[bytes, tuple[str, bytes]] = {}  # stamp -> (ETag, JSON)


def scripts(environ):
    authenticate(environ)
    stamp = cache.get("floor:ai_scripts:stamp")
    if stamp is None:
        cache.set("floor:ai_scripts:stamp", uuid.uuid4().hex)
        stamp = cache.get("floor:ai_scripts:stamp")
    # As the app: the ETag and JSON are kept in the process per stamp, so requests skip the
    # scripts query.
    cached = rendered.get(stamp)
    if cached is None:
        rows = (
            db()
            .execute(
                "SELECT id, script_name, version, script_content, is_active, created_at, updated_at"
                " FROM ai_scripts WHERE is_active ORDER BY script_name ASC"
            )
            .fetchall()
        )
        content = orjson.dumps(
            [
                {"script_name": r[1], "version": r[2], "script_content": r[3], "updated_at": iso(r[6])}
                for r in rows
            ]
        )
        rendered.clear()
        cached = rendered[stamp] = (f'"{hashlib.sha256(content).hexdigest()}"', content)
    etag, content = cached
    headers = [("ETag", etag), ("Cache-Control", "private, no-cache")]
    if etag in environ.get("HTTP_IF_NONE_MATCH", ""):
        return "304 Not Modified", None, headers
    return "200 OK", content, headers


configs: dict[int, tuple[dict, semver.Version | None]] = {}  # number -> (defaults, minimum)


def parse_version(text) -> semver.Version | None:
    try:
        return semver.Version.parse(text)
    except (TypeError, ValueError):
        return None


def app_config(environ):
    # The bare minimum: the newest version's number on every request, as the app finds it, its
    # document once per version, and each parameter's default. No rule is evaluated (the app
    # tries each parameter's rules for the platform, version and user): the benchmark's
    # request matches none, so the answers are the same.
    conn = db()
    newest = conn.execute(
        "SELECT number, published_at FROM app_config_versions ORDER BY number DESC LIMIT 1"
    ).fetchone()
    number = newest[0] if newest else 0
    cached = configs.get(number)
    if cached is None:
        row = conn.execute("SELECT document FROM app_config_versions WHERE number = %s", (number,)).fetchone()
        parameters = row[0]["parameters"] if row else {}
        defaults = {key: parameters[key]["default"] for key in sorted(parameters)}
        configs.clear()
        cached = configs[number] = (defaults, parse_version(defaults.get("minimum_app_version")))
    defaults, minimum = cached
    version = parse_version(environ.get("HTTP_X_APP_VERSION"))
    content = orjson.dumps(
        {
            "config_version": number,
            "parameters": defaults,
            "update_required": bool(minimum and version and version < minimum),
        }
    )
    return (
        "200 OK",
        content,
        [
            ("ETag", f'"{hashlib.sha256(content).hexdigest()[:32]}"'),
            ("Cache-Control", "private, no-cache"),
            ("Vary", "Authorization, X-Platform, X-App-Version"),
        ],
    )


def device_json(row) -> dict:
    return {
        "device_id": row[2],
        "sync_version": row[3],
        "data_hash": row[4],
        "last_sync_timestamp": iso(row[5]),
        "synced_at": iso(row[6]),
        "is_active": row[7],
    }


def sync_report(environ):
    user = authenticate(environ)[12]
    body = orjson.loads(read_body(environ))
    version, data_hash = body["sync_version"], body["data_hash"]
    params = {"user_id": user, "new_id": uuid.uuid4(), "device_id": body["device_id"]}
    params |= {"sync_version": version, "data_hash": data_hash, "last_sync_timestamp": None}
    params["now"] = datetime.now(UTC)
    conn = db()
    row = conn.execute(REPORT_SQL, params).fetchone() or conn.execute(REPORT_SQL, params).fetchone()
    accepted, device = row[0], row[1:]
    if accepted:
        return ("201 Created" if device[0] == params["new_id"] else "200 OK"), device_json(device)
    if version < device[3] or (version == device[3] and data_hash != device[4]):
        return "409 Conflict", {"detail": "Rejected.", "code": "stale_version", "device": device_json(device)}
    return "200 OK", device_json(device)


def sync_get(environ, device_id: str):
    user = authenticate(environ)[12]
    row = (
        db()
        .execute(
            f"SELECT {DEVICE_COLUMNS} FROM user_sync_status WHERE user_id = %s AND device_id = %s"
            " ORDER BY synced_at DESC, device_id ASC LIMIT 1",
            (user, device_id),
        )
        .fetchone()
    )
    if row is None:
        raise HttpError("404 Not Found", "Not found.")
    return "200 OK", device_json(row)


def backup_json(row) -> dict:
    return {
        "id": str(row[0]),
        "backup_date": iso(row[2]),
        "data_size": row[3],
        "checksum": row[4],
        "device_id": row[5],
        "sync_version": row[6],
    }


def backup_upload(environ):
    user = authenticate(environ)[12]
    body = read_body(environ)
    if len(body) > BACKUP_JSON_MAX_BYTES + 64 * 1024:
        raise HttpError("413 Request Entity Too Large", "Too large.")
    upload = orjson.loads(body)
    del body
    data = upload.pop("encrypted_data").encode()
    size, digest = len(data), hashlib.sha256(data).hexdigest()
    if digest != upload["checksum"].lower():
        raise HttpError("400 Bad Request", "Checksum mismatch.")
    conn, now, backup_id = db(), datetime.now(UTC), uuid.uuid4()
    key = f"backups/{user}/{backup_id}"
    # As the app: the payload is stored before its row exists, and pruned ones go after commit.
    path = BACKUP_STORAGE_DIR / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    del data
    with conn.transaction():
        conn.execute("SELECT id FROM users WHERE id = %s FOR UPDATE", (user,))
        conn.execute(
            "INSERT INTO user_backups (id, user_id, storage_key, backup_date, data_size, checksum,"
            " device_id, sync_version, idempotency_key) VALUES (%s, %s, %s, %s, %s, %s, '', NULL, '')",
            (backup_id, user, key, now, size, digest),
        )
        keep = [
            backup_id,
            *(
                r[0]
                for r in conn.execute(
                    "SELECT id FROM user_backups WHERE user_id = %s AND NOT id = %s"
                    " ORDER BY backup_date DESC, id DESC LIMIT %s",
                    (user, backup_id, max(BACKUP_KEEP, 1) - 1),
                )
            ),
        ]
        pruned = conn.execute(
            "DELETE FROM user_backups WHERE user_id = %s AND NOT id = ANY(%s) RETURNING storage_key",
            (user, keep),
        ).fetchall()
    for (old,) in pruned:
        with contextlib.suppress(FileNotFoundError):
            (BACKUP_STORAGE_DIR / old).unlink()
    return "201 Created", backup_json((backup_id, user, now, size, digest, "", None))


def backup_list(environ):
    user = authenticate(environ)[12]
    rows = (
        db()
        .execute(
            f"SELECT {BACKUP_META} FROM user_backups WHERE user_id = %s ORDER BY backup_date DESC, id DESC",
            (user,),
        )
        .fetchall()
    )
    return "200 OK", [backup_json(row) for row in rows]


def backup_latest(environ):
    user = authenticate(environ)[12]
    row = (
        db()
        .execute(
            f"SELECT {BACKUP_META}, storage_key FROM user_backups WHERE user_id = %s"
            " ORDER BY backup_date DESC, id DESC LIMIT 1",
            (user,),
        )
        .fetchone()
    )
    if row is None:
        raise HttpError("404 Not Found", "There is no backup yet.")
    data = (BACKUP_STORAGE_DIR / row[8]).read_bytes().decode()
    return "200 OK", {**backup_json(row), "encrypted_data": data}


def read_body(environ) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length)


ROUTES = {
    ("GET", "/health"): health,
    ("POST", "/api/auth/login"): login,
    ("GET", "/api/ai/scripts"): scripts,
    ("GET", "/api/config/app-config"): app_config,
    ("POST", "/api/sync/status"): sync_report,
    ("POST", "/api/sync/backup"): backup_upload,
    ("GET", "/api/sync/backup"): backup_list,
    ("GET", "/api/sync/backup/latest"): backup_latest,
}
DEVICE_PREFIX = "/api/sync/status/"


def application(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    extra = []
    try:
        if method == "GET" and path.startswith(DEVICE_PREFIX):
            status, body = sync_get(environ, path[len(DEVICE_PREFIX) :])
        elif (method, path) in ROUTES:
            status, body, *more = ROUTES[method, path](environ)
            extra = more[0] if more else []
        else:
            raise HttpError("404 Not Found", "Not found.")
    except HttpError as error:
        status, body = error.status, {"detail": error.detail}
    except psycopg.Error:
        local.conn = None
        status, body = "503 Service Unavailable", {"detail": "The database is unavailable; try again later."}
    if body is None:
        start_response(status, extra)
        return [b""]
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(content))), *extra]
    )
    return [content]
