"""An organization's payment standing. A failed payment shows a banner at
once; when it is still unpaid after the grace period (`BILLING_GRACE_DAYS`),
its paid capabilities are switched off and locked by billing — never any data
deleted — and they come back when the invoice is paid."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing import sync
from billing.models import BillingAccount
from capabilities import actions as capability_actions
from capabilities import enabled_in_database
from capabilities import queries as capability_queries

logger = logging.getLogger(__name__)

RESTRICTION_REASON = "Payment overdue: pay the open invoice to switch it back on"


def grace() -> timedelta:
    return timedelta(days=settings.BILLING_GRACE_DAYS)


def restriction_due(account: BillingAccount) -> datetime | None:
    if account.payment_status != BillingAccount.Payment.FAILED or account.payment_failed_at is None:
        return None
    return account.payment_failed_at + grace()


def payment_failed(account: BillingAccount, invoice_id: str, at: datetime) -> None:
    """Record a failed payment (inside the webhook's transaction)."""
    if account.payment_status != BillingAccount.Payment.FAILED:
        account.payment_failed_at = at
    account.payment_status = BillingAccount.Payment.FAILED
    account.payment_failed_invoice = invoice_id
    account.save(update_fields=["payment_status", "payment_failed_at", "payment_failed_invoice"])


def payment_succeeded(account: BillingAccount, invoice_id: str) -> None:
    """The failed invoice is paid: standing restored, restrictions lifted after commit."""
    if (
        account.payment_status != BillingAccount.Payment.FAILED
        or account.payment_failed_invoice != invoice_id
    ):
        return
    account.payment_status = BillingAccount.Payment.OK
    account.payment_failed_at = None
    account.payment_failed_invoice = ""
    account.save(update_fields=["payment_status", "payment_failed_at", "payment_failed_invoice"])
    if account.restricted_at is not None:
        transaction.on_commit(lambda: lift(account.pk))


def restrict(account_id: int) -> list[str]:
    """Switch off and lock the organization's enabled paid capabilities."""
    account = BillingAccount.objects.select_related("organization").get(pk=account_id)
    paid = {capability for capability, _ in sync.priced_meters()}
    restricted: list[str] = []
    for key in sorted(enabled_in_database(account.organization) & paid):
        # Switched off already when a dependency of an earlier one went off.
        if key in enabled_in_database(account.organization):
            result = capability_actions.restrict_capability(
                account.organization, key, reason=RESTRICTION_REASON
            )
            restricted.extend(result.changed)
    account.restricted_at = timezone.now()
    account.save(update_fields=["restricted_at"])
    logger.warning("Restricted %s for an overdue payment: %s", account.organization, restricted)
    return restricted


def lift(account_id: int) -> list[str]:
    """Give back what billing switched off: every capability whose last change
    was billing's restriction."""
    account = BillingAccount.objects.select_related("organization").get(pk=account_id)
    lifted = []
    for key in capability_queries.restricted_by_billing(account.organization):
        capability_actions.lift_restriction(account.organization, key, reason="Payment received")
        lifted.append(key)
    account.restricted_at = None
    account.save(update_fields=["restricted_at"])
    return lifted


def enforce_grace(now: datetime | None = None) -> list[int]:
    """Restrict every account whose failed payment outlived the grace period."""
    moment = now or timezone.now()
    overdue = BillingAccount.objects.filter(
        payment_status=BillingAccount.Payment.FAILED,
        payment_failed_at__lte=moment - grace(),
        restricted_at__isnull=True,
    )
    done = []
    for account in overdue:
        restrict(account.pk)
        done.append(account.organization_id)
    return done
