"""The backup transfers' client and limit, which bench/backup_transfers.py runs (and
bench/tests use directly): the payload, a tus client as the mobile app's, and the same bytes
written straight to storage.

    python -m bench.backup_client client   # the app's client, on the load CPU
    python -m bench.backup_client limit    # the storage alone, on the servers' CPU

Each reads its spec, then commands, as JSON lines on stdin and answers JSON lines on stdout.
"""

import base64
import collections
import functools
import hashlib
import http.client
import json
import os
import random
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

MIB = 1024 * 1024
PIECE_BYTES = 8 * MIB  # a PATCH's body, as the mobile client sends them
READ_BYTES = MIB  # as backups.storage reads
# The payload: this pool of seeded random bytes, repeated; incompressible, and the same in
# every process that asks for it.
POOL_BYTES = 64 * MIB
POOL_SEED = 2026
GIVE_UP_SECONDS = 600
UPLOADS = "/api/sync/backup/uploads"


# ---------------------------------------------------------------- the payload


@functools.cache
def pool() -> bytes:
    generator = random.Random(POOL_SEED)
    return b"".join(generator.randbytes(MIB) for _ in range(POOL_BYTES // MIB))


def piece_length(offset: int, size: int, piece_bytes: int) -> int:
    """Bytes from `offset` to the next multiple of `piece_bytes` (a resumed upload realigns),
    never past the payload's end or the pool's."""
    return min(piece_bytes - offset % piece_bytes, size - offset, POOL_BYTES - offset % POOL_BYTES)


def piece(offset: int, length: int) -> memoryview:
    start = offset % POOL_BYTES
    return memoryview(pool())[start : start + length]


def pieces(size: int, piece_bytes: int = PIECE_BYTES) -> Iterator[memoryview]:
    offset = 0
    while offset < size:
        length = piece_length(offset, size, piece_bytes)
        yield piece(offset, length)
        offset += length


@functools.cache
def checksum(size: int) -> str:
    digest = hashlib.sha256()
    for chunk in pieces(size):
        digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------- the client


class Client:
    """One device's keep-alive connection to the app, counting what it was answered."""

    def __init__(self, port: int, token: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
        self.statuses = collections.Counter()
        self.retries = self.drops = 0
        self.error = None
        self.deadline = time.monotonic() + GIVE_UP_SECONDS

    def call(self, method: str, path: str, body=None, headers=None, *, read: bool = True):
        """The response (read unless `read` is false), or None when the connection dropped."""
        try:
            self.connection.request(method, path, body=body, headers={**self.headers, **(headers or {})})
            response = self.connection.getresponse()
            if read or response.status != 200:
                response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.drops += 1
            return None
        self.statuses[response.status] += 1
        return response

    def waited_out(self, response) -> bool:
        """Whether `response` was a busy answer (503 or 429 with Retry-After), now waited out."""
        if response.status in (429, 503) and response.getheader("Retry-After"):
            self.retries += 1
            time.sleep(float(response.getheader("Retry-After")))
            return True
        return False

    def going_on(self) -> bool:
        if time.monotonic() > self.deadline:
            self.error = self.error or f"gave up after {GIVE_UP_SECONDS} s"
        return self.error is None

    def fail(self, what: str, response) -> None:
        self.error = f"{what}: {response.status} {response.reason}"

    def summary(self, started: float, **extra) -> dict:
        return {
            "ok": self.error is None,
            "error": self.error,
            "seconds": time.perf_counter() - started,
            "statuses": {str(code): n for code, n in self.statuses.items()},
            "retries": self.retries,
            "drops": self.drops,
            **extra,
        }


def upload(port: int, token: str, size: int, piece_bytes: int = PIECE_BYTES) -> dict:
    """A tus upload of `size` payload bytes: POST, then PATCHes of `piece_bytes`."""
    client, started = Client(port, token), time.perf_counter()
    metadata = {"Upload-Length": str(size), "Upload-Metadata": f"checksum {b64(checksum(size))}"}
    location = None
    while location is None and client.going_on():
        response = client.call("POST", UPLOADS, headers=metadata)
        if response is None or client.waited_out(response):
            continue
        if response.status != 201:
            client.fail("POST", response)
            break
        location = urlsplit(response.getheader("Location")).path
    offset, backup_id, patches, last_patch = 0, None, 0, None
    while location and backup_id is None and client.going_on():
        length = piece_length(offset, size, piece_bytes)
        headers = {"Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)}
        sent = time.perf_counter()
        response = client.call("PATCH", location, piece(offset, length), headers)
        patches += 1
        if response is not None and client.waited_out(response):
            continue
        if response is None or response.status == 409:
            # Where the server stands: a request that broke off may have stored part of its
            # bytes, or all of them, its answer lost.
            response = client.call("HEAD", location)
            if response is None or response.status != 200:
                continue
        elif response.status != 204:
            client.fail(f"PATCH at {offset}", response)
            break
        offset = int(response.getheader("Upload-Offset"))
        if offset == size:
            backup_id, last_patch = response.getheader("Backup-Id"), time.perf_counter() - sent
    client.connection.close()
    return client.summary(started, backup_id=backup_id, patches=patches, last_patch_seconds=last_patch)


def download(port: int, token: str, backup_id: str, size: int) -> dict:
    """GET .../download read as it streams, its SHA-256 checked against the payload's."""
    client, started = Client(port, token), time.perf_counter()
    buffer = bytearray(READ_BYTES)
    received = 0
    while client.going_on():
        response = client.call("GET", f"/api/sync/backup/{backup_id}/download", read=False)
        if response is None or client.waited_out(response):
            continue
        if response.status != 200:
            client.fail("GET", response)
            break
        digest, received = hashlib.sha256(), 0
        try:
            while count := response.readinto(buffer):
                digest.update(memoryview(buffer)[:count])
                received += count
        except (OSError, http.client.HTTPException):
            client.connection.close()
            client.drops += 1
            continue
        if (received, digest.hexdigest()) != (size, checksum(size)):
            client.error = f"received {received} bytes, not the payload's {size}"
        break
    client.connection.close()
    return client.summary(started, received=received)


def concurrent(port: int, tokens: list[str], size: int, piece_bytes: int = PIECE_BYTES) -> dict:
    """One upload per token, all at once (a thread each, started together)."""
    results = [None] * len(tokens)
    barrier = threading.Barrier(len(tokens))

    def one(index: int):
        barrier.wait()
        results[index] = upload(port, tokens[index], size, piece_bytes)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(tokens))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    statuses = sum((collections.Counter(r["statuses"]) for r in results), collections.Counter())
    return {
        "uploads": len(tokens),
        "completed": sum(r["ok"] for r in results),
        "errors": [r["error"] for r in results if not r["ok"]],
        "retries": sum(r["retries"] for r in results),
        "drops": sum(r["drops"] for r in results),
        "statuses": dict(statuses),
        "seconds": seconds,
        "upload_seconds": sorted(r["seconds"] for r in results),
        "mib_per_s": len(tokens) * size / MIB / seconds,
        "backup_ids": [r["backup_id"] for r in results],
    }


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ---------------------------------------------------------------- the limit


class FolderStore:
    """The limit on the filesystem: files in the app's storage folder."""

    def __init__(self, directory: str):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def write(self, key: str, size: int) -> None:
        with open(self.directory / key, "wb") as file:
            for chunk in pieces(size):
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())

    def read(self, key: str) -> int:
        buffer, received = bytearray(READ_BYTES), 0
        with open(self.directory / key, "rb", buffering=0) as file:
            while count := file.readinto(buffer):
                received += count
        return received

    def delete(self, key: str) -> None:
        (self.directory / key).unlink()


class BucketStore:
    """The limit on S3: the app's bucket, through boto3 configured as the app's."""

    def __init__(self, variables: dict):
        from testing.seaweedfs import client

        self.client, self.bucket = client(variables), variables["BACKUP_S3_BUCKET"]

    def write(self, key: str, size: int) -> None:
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        parts = []
        for number, chunk in enumerate(pieces(size), start=1):
            answer = self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(chunk)
            )
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )

    def read(self, key: str) -> int:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        return sum(len(chunk) for chunk in body.iter_chunks(READ_BYTES))

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


def limit_store(spec: dict):
    return BucketStore(spec["variables"]) if spec["storage"] == "s3" else FolderStore(spec["directory"])


# ---------------------------------------------------------------- the processes' side


def serve_client(spec: dict) -> Iterator[dict]:
    port = spec["port"]
    commands = {
        "prepare": lambda sizes: {"checksums": [checksum(size) for size in sizes]},
        "upload": lambda token, size: upload(port, token, size),
        "download": lambda token, backup_id, size: download(port, token, backup_id, size),
        "concurrent": lambda tokens, size: concurrent(port, tokens, size),
    }
    for command in commands_read():
        yield commands[command.pop("do")](**command)


def serve_limit(spec: dict) -> Iterator[dict]:
    store = limit_store(spec)
    for command in commands_read():
        if command["do"] == "prepare":
            yield {"pool_bytes": len(pool())}
        elif command["do"] == "write":
            started = time.perf_counter()
            store.write(command["key"], command["size"])
            yield {"seconds": time.perf_counter() - started}
        elif command["do"] == "read":
            started = time.perf_counter()
            received = store.read(command["key"])
            yield {"seconds": time.perf_counter() - started, "received": received}
        elif command["do"] == "delete":
            store.delete(command["key"])
            yield {"deleted": command["key"]}


def commands_read() -> Iterator[dict]:
    while line := sys.stdin.readline():
        yield json.loads(line)


def main() -> None:
    mode = sys.argv[1]
    spec = json.loads(sys.stdin.readline())
    for answer in {"client": serve_client, "limit": serve_limit}[mode](spec):
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
