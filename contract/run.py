"""`make contract`: the API contract against a live server, exit status non-zero on any failure.

1. Creates (if needed) and migrates the PostgreSQL database of DATABASE_URL, imports the
   sample AI scripts and starts gunicorn with production settings (rate limits off).
2. Generates a Python client from openapi.yaml with openapi-python-client into a
   temporary directory and runs the user journey (journey.py) through it.
3. Runs schemathesis over every operation of the served schema, with all its checks,
   signed in as a freshly registered user (see fuzz() for the operations that sign out).
"""

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import dj_database_url
import psycopg
from psycopg import sql

from testing import servers
from testing.servers import PROJECT

BIN = Path(sys.executable).parent
# Examples per operation and phase: the whole step stays within a few minutes on 2 cores.
MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "50"))
# A fixed seed makes a failure reproducible; set CONTRACT_SEED to explore other inputs.
SEED = os.environ.get("CONTRACT_SEED", "20261126")
# Signs out every token of the fuzzing user whatever the body, so it is fuzzed last, in a run
# of its own with a user of its own. (Logout, password change and account deletion need the
# user's refresh token or password, which the fuzzer never has: it exercises their refusals.)
SIGN_OUT_OPERATIONS = ("auth_logout_all",)
GENERATOR_CONFIG = (
    "project_name_override: persona-client\npackage_name_override: persona_client\npost_hooks: []\n"
)


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url or not os.environ.get("REDIS_URL"):
        print("make contract needs DATABASE_URL (PostgreSQL) and REDIS_URL", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="persona-contract-") as work:
        work = Path(work)
        env = servers.production_env(
            DATABASE_URL=database_url,
            WEB_CONCURRENCY="2",
            # The fuzzer sends thousands of sign-ins; 429s would hide every other answer.
            RATELIMIT_ENABLE="0",
        )
        log = work / "gunicorn.log"
        try:
            step("database and release step")
            database_create(database_url)
            servers.manage(env, "migrate", "--noinput")
            servers.manage(env, "import_ai_scripts", "ai_scripts/fixtures/sample_scripts.json")
            with servers.gunicorn(env, log=log) as server:
                results = {"journey": journey(work, server.base_url), "schemathesis": fuzz(server.base_url)}
        except (servers.ServerFailed, subprocess.CalledProcessError) as error:
            print(f"\ncontract FAILED: {error}; gunicorn's last log lines:", file=sys.stderr)
            print("\n".join(log.read_text(errors="replace").splitlines()[-40:]), file=sys.stderr)
            return 1
    failed = [name for name, ok in results.items() if not ok]
    if failed:
        print(f"\ncontract FAILED: {' and '.join(failed)} (see above)", file=sys.stderr)
        return 1
    print("\ncontract passed: the generated client's journey and schemathesis")
    return 0


def database_create(database_url: str) -> None:
    """Creates the PostgreSQL database of DATABASE_URL when it does not exist yet."""
    config = dj_database_url.parse(database_url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise servers.ServerFailed(f"the contract runs on PostgreSQL; DATABASE_URL is {config['ENGINE']}")
    maintenance = psycopg.connect(
        dbname="postgres",
        user=config["USER"] or None,
        password=config["PASSWORD"] or None,
        host=config["HOST"] or None,
        port=config["PORT"] or None,
        autocommit=True,
    )
    with maintenance:
        exists = maintenance.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if not exists:
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))


def step(title: str) -> None:
    print(f"\n== contract: {title}", flush=True)


def journey(work: Path, base_url: str) -> bool:
    step("generate the Python client from openapi.yaml")
    config = work / "generator.yaml"
    config.write_text(GENERATOR_CONFIG)
    output = work / "client"
    subprocess.run(
        [
            BIN / "openapi-python-client",
            "generate",
            "--path",
            PROJECT / "openapi.yaml",
            "--config",
            config,
            "--output-path",
            output,
        ],
        check=True,
    )
    step("the user journey through the generated client")
    sys.path.insert(0, str(output))
    from contract import journey as user_journey  # importable once generated

    started = time.monotonic()
    try:
        user_journey.run(base_url)
    except user_journey.JourneyFailed as failure:
        print(f"  FAILED {failure}", file=sys.stderr)
        return False
    print(f"  journey done in {time.monotonic() - started:.1f} s")
    return True


def fuzz(base_url: str) -> bool:
    step(f"schemathesis, every operation, all checks, {MAX_EXAMPLES} examples each, seed {SEED}")
    schema_url = f"{base_url}/api/schema?format=json"
    everything_else = [
        arg for operation in SIGN_OUT_OPERATIONS for arg in ("--exclude-operation-id", operation)
    ]
    signing_out = [arg for operation in SIGN_OUT_OPERATIONS for arg in ("--include-operation-id", operation)]
    return schemathesis(base_url, schema_url, everything_else) and schemathesis(
        base_url, schema_url, signing_out
    )


def schemathesis(base_url: str, schema_url: str, selection: list[str]) -> bool:
    token = fuzzing_user_token(base_url)
    # No --checks: schemathesis 4 runs every check by default, and an explicit "all" would
    # override the per-operation settings of schemathesis.toml.
    command = [
        BIN / "schemathesis",
        "--config-file",
        Path(__file__).with_name("schemathesis.toml"),
        "run",
        schema_url,
        "--url",
        base_url,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        SEED,
        "--generation-database",
        "none",
        "--header",
        f"Authorization: Bearer {token}",
        *selection,
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "contract.hooks", "CONTRACT_ACCESS_TOKEN": token}
    finished = subprocess.run(command, cwd=PROJECT, env=env, check=False)
    return finished.returncode == 0


def fuzzing_user_token(base_url: str) -> str:
    """A real access token of a new user whose password is no example's, so that the
    change-password and delete-account examples are refused rather than obeyed."""
    body = json.dumps(
        {"email": f"fuzz-{secrets.token_hex(6)}@example.com", "password": secrets.token_urlsafe(16)}
    )
    request = urllib.request.Request(
        f"{base_url}/api/auth/register", data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access"]


if __name__ == "__main__":
    sys.exit(main())
