"""An organization's payment standing. A failed payment shows a banner at
once; when it is still unpaid after the grace period (`BILLING_GRACE_DAYS`),
its paid capabilities are switched off and locked by billing — never any data
deleted — and they come back when the invoice is paid. The rules live here;
the changes (payment failed or received, restrict, lift) in billing.actions."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from billing.models import BillingAccount

RESTRICTION_REASON = "Payment overdue: pay the open invoice to switch it back on"


def grace() -> timedelta:
    return timedelta(days=settings.BILLING_GRACE_DAYS)


def restriction_due(account: BillingAccount) -> datetime | None:
    if account.payment_status != BillingAccount.Payment.FAILED or account.payment_failed_at is None:
        return None
    return account.payment_failed_at + grace()
