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


def _check(*args: str, run: str = "", **overrides: str | None) -> subprocess.CompletedProcess[str]:
    """`manage.py check *args` in a deployment's environment, or the Python
    code `run` in it."""
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
    command = [sys.executable, "-c", run] if run else [sys.executable, "manage.py", "check", *args]
    return subprocess.run(
        command,
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
        (
            {"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_quickstart_emulator"},
            "not the quickstart's published one",
        ),
        ({"STRIPE_API_BASE": "http://127.0.0.1:12111"}, "STRIPE_API_BASE must be empty"),
        (
            {"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_API_BASE": "http://127.0.0.1:12111"},
            "STRIPE_API_BASE must be empty",
        ),
        ({"PROXY_COUNT": "-1"}, "PROXY_COUNT must be 0"),
        ({"METRICS_TOKEN": "metrics"}, "METRICS_TOKEN must be a random value of 32+ characters"),
    ],
)
def test_production_refuses_to_start_with_an_unsafe_setting(overrides, complaint):
    result = _check(**overrides)
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr
    assert complaint in result.stderr


def _production_setting(expression: str, **overrides: str | None) -> str:
    result = _check(**overrides, run=f"import portal.settings as s; print({expression})")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_proxy_header_is_trusted_only_with_a_proxy_in_front():
    assert _production_setting("getattr(s, 'SECURE_PROXY_SSL_HEADER', None)") == "None"
    assert _production_setting("getattr(s, 'SECURE_PROXY_SSL_HEADER', None)", PROXY_COUNT="0") == "None"
    assert (
        _production_setting("s.SECURE_PROXY_SSL_HEADER", PROXY_COUNT="1")
        == "('HTTP_X_FORWARDED_PROTO', 'https')"
    )


def test_behind_a_proxy_the_client_address_comes_from_x_forwarded_for():
    """Sign-in throttling and the audit log (portal.audit.origin_of) read the
    client's address through django-axes' ipware settings."""
    behind_one_proxy = "s.AXES_IPWARE_PROXY_COUNT, s.AXES_IPWARE_META_PRECEDENCE_ORDER, s.IPWARE_STRICT"
    assert (
        _production_setting(behind_one_proxy, PROXY_COUNT="1")
        == "0 ('HTTP_X_FORWARDED_FOR', 'REMOTE_ADDR') False"
    )
    assert _production_setting("s.AXES_IPWARE_PROXY_COUNT", PROXY_COUNT="2") == "1"
    assert _production_setting("getattr(s, 'AXES_IPWARE_PROXY_COUNT', None)", PROXY_COUNT="0") == "None"


def test_a_real_key_with_its_own_webhook_secret_starts():
    assert (
        _production_setting(
            "s.STRIPE_WEBHOOK_SECRET", STRIPE_SECRET_KEY="sk_live_x", STRIPE_WEBHOOK_SECRET="whsec_own"
        )
        == "whsec_own"
    )


def test_unknown_profile_is_refused():
    result = _check(DJANGO_ENV="staging")
    assert result.returncode != 0
    assert "DJANGO_ENV must be" in result.stderr


def test_one_database_only_postgresql_is_accepted():
    result = _check(DATABASE_URL="sqlite:////tmp/switchboard.sqlite3")
    assert result.returncode != 0
    assert "DATABASE_URL must point at PostgreSQL (15 or newer)" in result.stderr


def test_the_test_profile_without_servers_says_how_to_get_them():
    result = _check(DJANGO_ENV="test", DATABASE_URL=None, REDIS_URL=None)
    assert result.returncode != 0
    assert "run the suite with `make test`" in result.stderr


def _quickstart_setting(expression: str, **overrides: str | None) -> str:
    env = {
        k: v for k, v in os.environ.items() if k not in {*SAFE, "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env["SWITCHBOARD_VAR_DIR"] = "/srv/switchboard/var"
    env.update({key: value for key, value in overrides.items() if value is not None})
    result = subprocess.run(
        [sys.executable, "-c", f"import portal.settings as s; print({expression})"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_quickstart_defaults_to_the_embedded_servers_sockets():
    assert _quickstart_setting("s.DATABASES['default']['OPTIONS']['host']") == "/srv/switchboard/var/run"
    assert _quickstart_setting("s.DATABASES['default']['NAME']") == "switchboard"
    assert _quickstart_setting("s.REDIS_URL") == "unix:///srv/switchboard/var/run/redis.sock?db=0"
    # kombu's spelling of the same socket for the broker.
    assert (
        _quickstart_setting("s.CELERY_BROKER_URL")
        == "redis+socket:///srv/switchboard/var/run/redis.sock?virtual_host=0"
    )


def test_urls_of_your_own_replace_the_embedded_servers():
    database = "s.DATABASES['default']['HOST'], s.DATABASES['default']['PORT']"
    assert (
        _quickstart_setting(database, DATABASE_URL="postgres://me@db.internal:6543/sb") == "db.internal 6543"
    )
    assert (
        _quickstart_setting("s.CELERY_BROKER_URL", REDIS_URL="redis://cache:6379/2") == "redis://cache:6379/2"
    )


def test_a_capability_setting_that_does_not_parse_stops_the_start():
    """As a bad value of portal/settings.py does: the process does not start
    and says which variable is wrong (not at the first upload)."""
    result = _check(DOCUMENTS_MAX_FILES="many")
    assert result.returncode != 0
    assert "DOCUMENTS_MAX_FILES='many' is not a valid int" in result.stderr
