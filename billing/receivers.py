"""Signal receivers: a capability switched on or off queues the sync of the
organization's subscription items (the signal is sent after commit)."""

from __future__ import annotations

import logging
from typing import Any

from kombu.exceptions import OperationalError

from billing import stripe_gateway as gateway

logger = logging.getLogger(__name__)


def capability_toggled(
    sender: Any, organization: Any, capability_key: str, enabled: bool, **kwargs: Any
) -> None:
    if not gateway.configured():
        return
    from billing.tasks import sync_organization

    try:
        sync_organization.delay(organization.pk)
    except OperationalError:
        # The broker is down: the hourly sync brings the items in line.
        logger.warning("Could not queue the billing sync of %s; the periodic sync will do it", organization)
