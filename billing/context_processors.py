"""The failed-payment banner, on every page of the organization's people who
handle billing (owners, admins, billing)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from billing import standing
from billing.models import BillingAccount
from portal.models import USAGE_ROLES


def payment_standing(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    if membership is None or membership.role not in USAGE_ROLES:
        return {}
    account = (
        BillingAccount.objects.filter(
            organization_id=membership.organization_id, payment_status=BillingAccount.Payment.FAILED
        )
        .only("payment_status", "payment_failed_at", "restricted_at", "payment_failed_invoice")
        .first()
    )
    if account is None:
        return {}
    return {"payment_problem": account, "payment_restriction_due": standing.restriction_due(account)}
