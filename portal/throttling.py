"""Throttling: the login hooks for django-axes, and a request rate limit for
the machine-facing endpoints (OFREP flag evaluation)."""

import threading
import time
from typing import Any

from django.http import HttpRequest


def sign_in_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """Count failures per address case-insensitively: "Alice@…" and "alice@…"
    are the same account, so they share one failure counter."""
    if credentials and credentials.get("username"):
        return str(credentials["username"]).strip().lower()
    posted = request.POST.get("username") if request is not None and request.method == "POST" else None
    return posted.strip().lower() if posted else None


def over_rate(scope: str, who: str, limit: int) -> int | None:
    """Count one request of `who` in `scope` against `limit` requests a second
    in this web process (a fixed one-second window). The seconds to wait
    before retrying when over it, else None.

    The count is the process's own: with N web processes a credential may make
    up to N x `limit` requests a second in all. A shared count would cost a
    Redis write per request, which on this path costs more than the
    evaluation itself; what the limit protects is each process's capacity."""
    second = int(_clock())
    with _rate_lock:
        window, count = _rates.get((scope, who), (second, 0))
        count = count + 1 if window == second else 1
        _rates[(scope, who)] = (second, count)
    return 1 if count > limit else None


def forget_rates() -> None:
    """Drop this process's request counts (tests)."""
    _rates.clear()


_rates: dict[tuple[str, str], tuple[int, int]] = {}
_rate_lock = threading.Lock()
_clock = time.monotonic
