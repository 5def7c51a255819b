"""The production profile refuses unsafe settings and passes `check --deploy`."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAFE = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(60),
    "ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/switchboard",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
}


def _check(*args: str, **overrides: str | None) -> subprocess.CompletedProcess[str]:
    # A deployment's environment: none of the test-only switches (the browser
    # tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process).
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {*SAFE, "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(SAFE)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_safe_production_settings_pass_the_deploy_check():
    result = _check("--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"SECRET_KEY": None}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be set"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must list"),
        ({"DATABASE_URL": None}, "DATABASE_URL must point at PostgreSQL"),
        ({"REDIS_URL": None}, "REDIS_URL must point at Redis"),
    ],
)
def test_production_refuses_to_start_with_an_unsafe_setting(overrides, complaint):
    result = _check(**overrides)
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr
    assert complaint in result.stderr


def test_unknown_profile_is_refused():
    result = _check(DJANGO_ENV="staging")
    assert result.returncode != 0
    assert "DJANGO_ENV must be" in result.stderr
