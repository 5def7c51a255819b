"""Throttling: the login hooks for django-axes, and a request rate limit for
the machine-facing endpoints (OFREP flag evaluation)."""

import logging
import time
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)


def sign_in_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """Count failures per address case-insensitively: "Alice@…" and "alice@…"
    are the same account, so they share one failure counter."""
    if credentials and credentials.get("username"):
        return str(credentials["username"]).strip().lower()
    posted = request.POST.get("username") if request is not None and request.method == "POST" else None
    return posted.strip().lower() if posted else None


def over_rate(scope: str, who: str, limit: int) -> int | None:
    """Count one request of `who` in `scope` against `limit` requests a second
    (a fixed one-second window in the shared cache, so every web process
    counts together). The seconds to wait before retrying when over it, else
    None. While the cache is unreachable nobody is throttled: a limit must not
    turn Redis's outage into the service's."""
    window = int(time.time())
    key = f"throttle:{scope}:{who}:{window}"
    try:
        try:
            count = cache.incr(key)
        except ValueError:  # the window's first request
            cache.add(key, 0, timeout=5)
            count = cache.incr(key)
    except Exception:
        logger.warning("Rate counter unreachable; %s is not throttled", scope, exc_info=True)
        return None
    return 1 if count > limit else None
