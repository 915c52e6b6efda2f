"""Start-up configuration: production refuses to start misconfigured."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k" * 10 + "production-secret-key-with-plenty-of-entropy-9f8e7d6c5b4a",
    "JWT_SECRET": "a-different-production-jwt-secret-of-good-length-0123456789",
    "ALLOWED_HOSTS": "api.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "PATH": os.environ["PATH"],
}


def run_manage(*args, env):
    return subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, "manage.py", *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("variable", ["SECRET_KEY", "JWT_SECRET", "ALLOWED_HOSTS"])
def test_production_without_a_required_variable_fails_naming_it(variable):
    env = {name: value for name, value in PRODUCTION.items() if name != variable}

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert f"{variable} must be set when DEBUG is off" in result.stderr


def test_production_without_redis_fails_unless_it_runs_a_single_process():
    env = {name: value for name, value in PRODUCTION.items() if name != "REDIS_URL"}

    refused = run_manage("check", env=env)
    single = run_manage("check", env={**env, "SINGLE_PROCESS": "1"})

    assert refused.returncode != 0
    assert "REDIS_URL must be set when DEBUG is off" in refused.stderr
    assert single.returncode == 0, single.stderr


@pytest.mark.parametrize("variable", ["SECRET_KEY", "JWT_SECRET"])
@pytest.mark.parametrize(
    "weak",
    ["secret", "x" * 64, "0123456789abcdef0123456789abcde", "django-insecure-" + "a1b2c3d4e5f6g7h8i9j0" * 2],
)
def test_production_refuses_a_weak_secret(variable, weak):
    result = run_manage("check", env={**PRODUCTION, variable: weak})

    assert result.returncode != 0
    assert f"{variable} is too weak" in result.stderr


def test_a_malformed_boolean_fails_naming_the_variable():
    result = run_manage("check", env={**PRODUCTION, "DEBUG": "maybe"})

    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DB_POOL_SIZE", "0", "DB_POOL_SIZE must be at least 1, got 0"),
        ("DB_CONNECT_TIMEOUT", "1", "DB_CONNECT_TIMEOUT must be at least 2, got 1"),
        ("DB_STATEMENT_TIMEOUT", "-5", "DB_STATEMENT_TIMEOUT must be at least 0, got -5"),
        ("DB_POOL_TIMEOUT", "soon", "DB_POOL_TIMEOUT must be an integer, got 'soon'"),
    ],
)
def test_a_database_limit_out_of_range_fails_naming_the_variable(variable, value, message):
    result = run_manage("check", env={**PRODUCTION, variable: value})

    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize("cache", [{"REDIS_URL": "", "SINGLE_PROCESS": "1"}, {}], ids=["local", "redis"])
def test_production_settings_pass_the_deploy_checklist(cache):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION, **cache})

    assert result.returncode == 0, result.stderr


def test_debug_runs_without_any_secret():
    result = run_manage("check", env={"DEBUG": "1", "PATH": os.environ["PATH"]})

    assert result.returncode == 0, result.stderr


def test_the_admin_css_is_served_with_debug_off(client):
    response = client.get("/static/admin/css/base.css")

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"/*")


def test_env_example_lists_every_variable_the_settings_read():
    settings_source = (PROJECT / "persona" / "settings.py").read_text()
    read = set(re.findall(r'(?:env_\w+|environ\.get|environ)\(\s*"([A-Z][A-Z0-9_]+)"', settings_source))
    example = (PROJECT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))

    assert len(read) > 60
    assert sorted(read - listed) == []
