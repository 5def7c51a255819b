"""Processing Stripe's webhook events. Each event is stored by its id in the
same transaction that applies it, so a redelivery is recognised and applied
once. Delivery order is not trusted: an invoice or subscription takes the state
of the newest event seen (by Stripe's `created`), so an older event arriving
late changes nothing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import standing
from billing import stripe_gateway as gateway
from billing.models import BillingAccount, Invoice, MeterErrorReport, WebhookEvent

logger = logging.getLogger(__name__)

# When two events of an invoice carry the same second, the later state wins.
INVOICE_STATUS_RANK = {"draft": 0, "open": 1, "uncollectible": 2, "void": 3, "paid": 4}


def _at(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def process(event: dict[str, Any]) -> tuple[WebhookEvent, bool]:
    """Store and apply one verified event; returns (row, newly processed)."""
    event_id = str(event.get("id") or "")
    kind = str(event.get("type") or "")
    created = _at(event.get("created")) or timezone.now()
    obj = (event.get("data") or {}).get("object") or {}
    try:
        with transaction.atomic():
            row = WebhookEvent.objects.create(
                stripe_event_id=event_id, type=kind, created=created, payload=event
            )
            row.organization_id, row.outcome = _apply(kind, obj, created, event_id)
            row.save(update_fields=["organization", "outcome"])
    except IntegrityError:
        return WebhookEvent.objects.get(stripe_event_id=event_id), False
    return row, True


def catch_up(since: datetime) -> int:
    """Apply the events Stripe created since `since` that no webhook brought
    (the endpoint was down or not reachable yet); returns how many were new.
    They are read from the Events API with our secret key, so they are Stripe's
    own without a signature to check; each is stored and applied once, as a
    webhook would be, and a webhook arriving later changes nothing."""
    new = 0
    for event in gateway.events_since(since):
        _, processed = process(event)
        new += processed
    return new


def _account(customer: Any) -> BillingAccount | None:
    customer_id = customer.get("id") if isinstance(customer, dict) else customer
    if not customer_id:
        return None
    return BillingAccount.objects.select_for_update().filter(stripe_customer_id=customer_id).first()


def _apply(kind: str, obj: dict[str, Any], created: datetime, event_id: str) -> tuple[int | None, str]:
    if kind.startswith("invoice."):
        return _invoice(kind, obj, created)
    if kind.startswith("customer.subscription."):
        return _subscription(kind, obj, created)
    if kind.endswith("billing.meter.error_report_triggered"):
        return None, _meter_error(obj, created, event_id)
    return None, "Not used by Switchboard; stored only."


def _invoice(kind: str, obj: dict[str, Any], created: datetime) -> tuple[int | None, str]:
    account = _account(obj.get("customer"))
    if account is None:
        return None, "Invoice of a customer Switchboard doesn't know; stored only."
    invoice = Invoice.objects.select_for_update().filter(stripe_invoice_id=obj.get("id")).first()
    newer = invoice is None or (created, INVOICE_STATUS_RANK.get(obj.get("status", ""), 0)) >= (
        invoice.event_at,
        INVOICE_STATUS_RANK.get(invoice.status, 0),
    )
    if newer:
        invoice = invoice or Invoice(organization_id=account.organization_id, stripe_invoice_id=obj["id"])
        invoice.number = obj.get("number") or ""
        invoice.status = obj.get("status") or ""
        invoice.currency = obj.get("currency") or "usd"
        invoice.period_start = _at(obj.get("period_start"))
        invoice.period_end = _at(obj.get("period_end"))
        invoice.total = int(obj.get("total") or 0)
        invoice.amount_due = int(obj.get("amount_due") or 0)
        invoice.amount_paid = int(obj.get("amount_paid") or 0)
        invoice.amount_remaining = int(obj.get("amount_remaining") or 0)
        invoice.attempt_count = int(obj.get("attempt_count") or 0)
        invoice.hosted_invoice_url = obj.get("hosted_invoice_url") or ""
        invoice.invoice_pdf = obj.get("invoice_pdf") or ""
        invoice.event_at = created
        invoice.updated_at = timezone.now()
        invoice.save()
    assert invoice is not None
    if kind == "invoice.payment_failed" and invoice.status != "paid":
        standing.payment_failed(account, invoice.stripe_invoice_id, created)
        return account.organization_id, f"Payment of {invoice.stripe_invoice_id} failed."
    if invoice.status == "paid":
        standing.payment_succeeded(account, invoice.stripe_invoice_id)
    return account.organization_id, (
        f"Invoice {invoice.stripe_invoice_id} is {invoice.status}."
        if newer
        else "Older than the invoice state already recorded; not applied."
    )


def _subscription(kind: str, obj: dict[str, Any], created: datetime) -> tuple[int | None, str]:
    account = _account(obj.get("customer"))
    if account is None:
        return None, "Subscription of a customer Switchboard doesn't know; stored only."
    if account.subscription_event_at and created < account.subscription_event_at:
        return account.organization_id, "Older than the subscription state already recorded; not applied."
    status = "canceled" if kind == "customer.subscription.deleted" else str(obj.get("status") or "")
    if obj.get("id") == account.stripe_subscription_id or not account.stripe_subscription_id:
        account.subscription_status = status
        account.subscription_event_at = created
        account.save(update_fields=["subscription_status", "subscription_event_at"])
    return account.organization_id, f"Subscription {obj.get('id')} is {status}."


def _meter_error(obj: dict[str, Any], created: datetime, event_id: str) -> str:
    reason = obj.get("reason") or {}
    types = reason.get("error_types") or []
    codes = ", ".join(str(kind.get("code", "")) for kind in types if isinstance(kind, dict))
    meter = obj.get("meter") if isinstance(obj.get("meter"), str) else obj.get("id", "")
    MeterErrorReport.objects.create(
        stripe_event_id=event_id,
        stripe_meter_id=str(meter or ""),
        event_name=str(obj.get("event_name") or ""),
        error_count=int(reason.get("error_count") or 0),
        error_codes=codes[:300],
        summary=str(obj.get("summary") or codes or "Meter events Stripe could not use")[:500],
        reported_at=created,
    )
    logger.warning("Stripe reported meter errors on %s: %s", meter, codes)
    return f"Meter error report: {codes or 'unknown errors'}."
