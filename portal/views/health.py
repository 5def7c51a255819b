"""Liveness and readiness probes for load balancers and orchestrators."""

from typing import Any

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from portal.celery import app as celery_app


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering."""
    return JsonResponse({"status": "ok"})


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        return f"{type(error).__name__}"
    return None


def check_broker() -> str | None:
    try:
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:  # noqa: BLE001
        return f"{type(error).__name__}"
    return None


def check_cache() -> str | None:
    try:
        cache.set("readyz", "ok", timeout=5)
        if cache.get("readyz") != "ok":
            return "cache did not return what was stored"
    except Exception as error:  # noqa: BLE001
        return f"{type(error).__name__}"
    return None


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """The database, the broker and the cache are reachable. Error classes only:
    connection strings and messages stay in the logs."""
    checks: dict[str, Any] = {
        "database": check_database(),
        "broker": check_broker(),
        "cache": check_cache(),
    }
    ready = all(problem is None for problem in checks.values())
    return JsonResponse(
        {
            "status": "ready" if ready else "unavailable",
            "checks": {name: problem or "ok" for name, problem in checks.items()},
        },
        status=200 if ready else 503,
    )
