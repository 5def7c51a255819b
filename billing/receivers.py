"""Signal receivers: a capability switched on or off, or a change of the version
an organization runs (a version priced differently has an item of its own),
queues the sync of the organization's subscription items (the signals are sent
after commit)."""

from __future__ import annotations

import logging
from typing import Any

from kombu.exceptions import OperationalError

from billing import stripe_gateway as gateway

logger = logging.getLogger(__name__)


def capability_toggled(
    sender: Any, organization: Any, capability_key: str, enabled: bool, **kwargs: Any
) -> None:
    _queue_sync(organization)


def release_changed(sender: Any, organization: Any, capability_key: str, **kwargs: Any) -> None:
    _queue_sync(organization)


def _queue_sync(organization: Any) -> None:
    if not gateway.configured():
        return
    from billing.tasks import sync_organization

    try:
        sync_organization.delay(organization.pk)
    except OperationalError:
        # The broker is down: the hourly sync brings the items in line.
        logger.warning("Could not queue the billing sync of %s; the periodic sync will do it", organization)
