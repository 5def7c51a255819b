"""A capability's flag for an organization, as OFREP states it.

The value is the rule every request and job obeys: the capability is on and
no reached `stop` budget covers it. It is read from the toggle gate's
snapshot, so an evaluation costs no query once the snapshot is warm, and a
change is seen within the gate's bound (`capabilities.gate.STALENESS`).
"""

from __future__ import annotations

from typing import Any

from capabilities.gate import budget_stop, is_enabled, locked_keys
from capabilities.ofrep.credentials import Credential
from capabilities.registry import registry


def exists(key: str) -> bool:
    return key in registry()


def evaluate(organization_id: int, key: str) -> dict[str, Any]:
    """The OFREP evaluation of flag `key` (an installed capability)."""
    from capabilities.releases import running

    stopped = budget_stop(organization_id, key) is not None
    value = is_enabled(organization_id, key) and not stopped
    release = running(organization_id, key)
    return {
        "key": key,
        "value": value,
        "reason": "STATIC" if value else "DISABLED",
        "variant": "on" if value else "off",
        "metadata": {
            "locked": key in locked_keys(organization_id),
            # The version the organization runs (its channel's, or the one pinned).
            "version": release.version.number,
            "channel": release.channel,
            "budget_state": "stopped" if stopped else "ok",
        },
    }


def evaluate_all(organization_id: int, credential: Credential) -> list[dict[str, Any]]:
    """Every flag `credential` may see, evaluated, in key order."""
    return [evaluate(organization_id, key) for key in sorted(registry().keys()) if credential.may_see(key)]
