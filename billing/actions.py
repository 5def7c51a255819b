"""State changes of billing: a price change, a reconciliation started, a
payment failed or received, an organization restricted for an overdue invoice
and the restriction lifted. Each writes its rows and the audit entry in one
transaction and defers what must happen after commit; the pages, the API,
Celery tasks and the webhook engine call these, never the models."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing import reconcile, standing, sync
from billing.models import BillingAccount, PriceVersion, ReconciliationRun
from billing.price_book import MAX_DECIMAL_PLACES, ensure_defaults, forget_cached_prices, next_period_start
from capabilities import actions as capability_actions
from capabilities import enabled_in_database
from capabilities import queries as capability_queries
from capabilities.registry import registry
from metering.periods import billing_period
from portal.actions.errors import ActionError
from portal.audit import Origin, record_audit
from portal.models import User

logger = logging.getLogger(__name__)


# --- the price book --------------------------------------------------------------------


def change_price(
    actor: User,
    capability: str,
    meter: str,
    unit_price: Decimal,
    *,
    note: str,
    effective_from: datetime | None = None,
    origin: Origin | None = None,
) -> PriceVersion:
    """Add a version of a meter's price, from the start of a future billing
    period (the next one by default). A version already scheduled for that
    period is not edited: the new one supersedes it by number."""
    if not getattr(actor, "is_finance", False):
        raise ActionError("Only Switchboard's finance team can change prices.", "finance_required")
    try:
        declared = registry().get(capability).meter(meter)
    except KeyError as error:
        raise ActionError(f"There is no meter {capability}.{meter}.", "unknown_meter") from error
    if not isinstance(unit_price, Decimal) or not unit_price.is_finite() or unit_price < 0:
        raise ActionError("A price is a number of zero or more.", "invalid_price")
    exponent = unit_price.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMAL_PLACES:
        raise ActionError(
            f"A price has at most {MAX_DECIMAL_PLACES} decimal places (Stripe's limit).", "invalid_price"
        )
    if not note.strip():
        raise ActionError("Say why the price changes: the note is kept with the history.", "note_required")
    now = timezone.now()
    start = effective_from or next_period_start(now)
    if start <= now or billing_period(start).start != start:
        raise ActionError("A new price starts at the beginning of a future billing period.", "invalid_start")
    ensure_defaults()
    with transaction.atomic(durable=True):
        latest = (
            PriceVersion.objects.select_for_update()
            .filter(capability=capability, meter=meter)
            .order_by("-version")
            .first()
        )
        version = PriceVersion.objects.create(
            capability=capability,
            meter=meter,
            version=(latest.version if latest else 0) + 1,
            unit_price=unit_price,
            currency=declared.currency,
            effective_from=start,
            note=note.strip()[:300],
            created_by=actor,
        )
        record_audit(
            actor,
            "billing.price_changed",
            target=version,
            origin=origin,
            details={
                "capability": capability,
                "meter": meter,
                "version": version.version,
                "unit_price": str(unit_price),
                "effective_from": start.isoformat(),
            },
        )
        transaction.on_commit(forget_cached_prices)
    return version


# --- reconciliation --------------------------------------------------------------------


def start_reconciliation(
    actor: User | None,
    period_start: datetime,
    *,
    origin: Origin | None = None,
    now: datetime | None = None,
    schedule: bool = True,
) -> ReconciliationRun:
    """Queue a reconciliation of the billing period that starts at
    `period_start` (finance from its page, or the daily beat with actor None)
    and, after commit, hand it to a worker. With `schedule` false the caller
    carries the run out itself (`reconcile.run`): the daily beat and the demo
    do, in the task or command they already are."""
    from billing.tasks import run_reconciliation  # the tasks module calls these actions

    with transaction.atomic(durable=True):
        run = reconcile.start_run(actor, period_start, now=now)
        record_audit(
            actor,
            "billing.reconciliation_started",
            target=run,
            origin=origin,
            details={
                "period_start": run.period_start.isoformat(),
                "checked_until": run.checked_until.isoformat(),
            },
        )
        if schedule:
            transaction.on_commit(lambda: run_reconciliation.delay(run.pk))
    return run


def _audit_account(account: BillingAccount, action: str, details: dict[str, object]) -> None:
    """Billing's entry about an organization's account: done by the system
    (Stripe's webhook or the beat), so no actor."""
    record_audit(None, action, organization=account.organization, target=account, details=details)


# --- payments --------------------------------------------------------------------------
# Stripe's invoice events are applied by the webhook engine (billing.webhooks)
# in the transaction that stores the event, so that an event is applied exactly
# once: its row and its effect commit together or not at all. The two payment
# actions therefore join that transaction instead of opening a durable one.


def record_payment_failed(account: BillingAccount, invoice_id: str, at: datetime) -> None:
    """Stripe says the payment of `invoice_id` failed: the organization's
    banner shows at once and the grace period runs from the first failure.
    Called inside the webhook's transaction (see above), so not durable."""
    if account.payment_status != BillingAccount.Payment.FAILED:
        account.payment_failed_at = at
    account.payment_status = BillingAccount.Payment.FAILED
    account.payment_failed_invoice = invoice_id
    account.save(update_fields=["payment_status", "payment_failed_at", "payment_failed_invoice"])
    _audit_account(account, "billing.payment_failed", {"invoice": invoice_id, "failed_at": at.isoformat()})


def record_payment_received(account: BillingAccount, invoice_id: str) -> None:
    """The failed invoice is paid: standing restored, and billing's restriction
    lifted after commit. Any other paid invoice changes nothing. Called inside
    the webhook's transaction (see above), so not durable."""
    if (
        account.payment_status != BillingAccount.Payment.FAILED
        or account.payment_failed_invoice != invoice_id
    ):
        return
    account.payment_status = BillingAccount.Payment.OK
    account.payment_failed_at = None
    account.payment_failed_invoice = ""
    account.save(update_fields=["payment_status", "payment_failed_at", "payment_failed_invoice"])
    _audit_account(account, "billing.payment_received", {"invoice": invoice_id})
    if account.restricted_at is not None:
        account_id = account.pk
        transaction.on_commit(lambda: lift_restriction(account_id))


# --- restriction for an overdue invoice --------------------------------------------------
# Each capability is switched by capabilities' own durable action (its toggle,
# history, audit entry and announcement), so these two cannot hold everything
# in one transaction: they switch the capabilities one by one, then mark the
# account and write billing's audit entry in a durable transaction of their own.


def restrict_for_overdue_invoice(account_id: int) -> list[str]:
    """Switch off and lock the organization's enabled paid capabilities, its
    failed payment having outlived the grace period; returns their keys."""
    account = BillingAccount.objects.select_related("organization").get(pk=account_id)
    paid = {capability for capability, _ in sync.priced_meters()}
    restricted: list[str] = []
    for key in sorted(enabled_in_database(account.organization) & paid):
        # Switched off already when a dependency of an earlier one went off.
        if key in enabled_in_database(account.organization):
            result = capability_actions.restrict_capability(
                account.organization, key, reason=standing.RESTRICTION_REASON
            )
            restricted.extend(result.changed)
    with transaction.atomic(durable=True):
        account.restricted_at = timezone.now()
        account.save(update_fields=["restricted_at"])
        _audit_account(
            account,
            "billing.restricted",
            {"invoice": account.payment_failed_invoice, "capabilities": restricted},
        )
    logger.warning("Restricted %s for an overdue payment: %s", account.organization, restricted)
    return restricted


def lift_restriction(account_id: int) -> list[str]:
    """Give back what billing switched off: every capability whose last change
    was billing's restriction; returns their keys."""
    account = BillingAccount.objects.select_related("organization").get(pk=account_id)
    lifted = []
    for key in capability_queries.restricted_by_billing(account.organization):
        capability_actions.lift_restriction(account.organization, key, reason="Payment received")
        lifted.append(key)
    with transaction.atomic(durable=True):
        account.restricted_at = None
        account.save(update_fields=["restricted_at"])
        _audit_account(account, "billing.restriction_lifted", {"capabilities": lifted})
    return lifted


def enforce_grace(now: datetime | None = None) -> list[int]:
    """Restrict every account whose failed payment outlived the grace period
    (the beat's task); returns their organizations' ids."""
    moment = now or timezone.now()
    overdue = BillingAccount.objects.filter(
        payment_status=BillingAccount.Payment.FAILED,
        payment_failed_at__lte=moment - standing.grace(),
        restricted_at__isnull=True,
    )
    done = []
    for account in overdue:
        restrict_for_overdue_invoice(account.pk)
        done.append(account.organization_id)
    return done
