"""Usage for the dashboard tests: events recorded through the ledger (so the
rollups the pages read are the real ones), and a fixed clock for the pages."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from django.db import transaction

from metering import ledger
from portal.models import Organization

# "Now" for the page tests: 10 November 2026, noon UTC. The November billing
# period is then 9.5 of 30 days old.
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
_keys = itertools.count(1)


def record(
    organization: Organization,
    quantity: int,
    *,
    at: datetime = NOW,
    capability: str = "ocr",
    meter: str = "pages",
    **fields,
) -> None:
    """Append one usage event (and its rollup) in a committed transaction."""
    with transaction.atomic():
        ledger.append(
            [
                ledger.UsageRecord(
                    organization_id=organization.pk,
                    capability=capability,
                    meter=meter,
                    quantity=quantity,
                    occurred_at=at,
                    idempotency_key=f"test:{organization.slug}:{next(_keys)}",
                    **fields,
                )
            ]
        )
