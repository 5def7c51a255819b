"""Organization API keys verified lately, remembered by this process.

A key verified lately is trusted for KEY_STALENESS seconds without asking the
database again (the key and its organization as they were then): a busy
client's requests skip a query each, and a revocation or a suspension is seen
by every process within that bound, like a toggle (capabilities.gate). The
process that revokes a key or suspends an organization forgets its keys as
the change commits. The memory is keyed by the secret's SHA-256, never the
secret; portal.api.authentication.verified_api_key is its one reader."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from django.db import transaction

if TYPE_CHECKING:
    from portal.models import OrganizationAPIKey

KEY_STALENESS = 0.5
_MAX_REMEMBERED = 4096  # distinct keys per process; past it the memory starts again
_verified: dict[str, tuple[OrganizationAPIKey, float]] = {}
_lock = threading.Lock()
_clock = time.monotonic


def recall(digest: str) -> OrganizationAPIKey | None:
    """The key verified under `digest` within KEY_STALENESS, if any (its expiry
    is the caller's to check)."""
    remembered = _verified.get(digest)
    if remembered is not None and _clock() - remembered[1] <= KEY_STALENESS:
        return remembered[0]
    return None


def remember(digest: str, api_key: OrganizationAPIKey) -> None:
    with _lock:
        if len(_verified) >= _MAX_REMEMBERED:
            _verified.clear()
        _verified[digest] = (api_key, _clock())


def forget_verified_keys() -> None:
    """Verify every key again at its next use (after a revocation or a
    suspension commits; tests)."""
    with _lock:
        _verified.clear()


def forget_verified_keys_on_commit() -> None:
    transaction.on_commit(forget_verified_keys)
