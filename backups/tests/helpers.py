"""What the backup tests share besides fixtures."""

import hashlib

URL = "/api/sync/backup"


def sha256(data: str) -> str:
    """What a client sends as `checksum`."""
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def upload_body(data: str, **extra) -> dict:
    return {"encrypted_data": data, "checksum": sha256(data), **extra}


def selects_payload(queries) -> bool:
    """Whether any captured SELECT reads the payload column."""
    selects = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    return any("encrypted_data" in sql for sql in selects)
