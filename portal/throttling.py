"""Login throttling hooks for django-axes."""

from typing import Any

from django.http import HttpRequest


def sign_in_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """Count failures per address case-insensitively: "Alice@…" and "alice@…"
    are the same account, so they share one failure counter."""
    if credentials and credentials.get("username"):
        return str(credentials["username"]).strip().lower()
    posted = request.POST.get("username") if request is not None and request.method == "POST" else None
    return posted.strip().lower() if posted else None
