"""Processing Stripe's webhook events. Each event is stored by its id in the
same transaction that applies it, so a redelivery is recognised and applied
once. Delivery order is not trusted: an invoice or subscription takes the state
of the newest event seen (by Stripe's `created`), so an older event arriving
late changes nothing."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import actions
from billing import stripe_gateway as gateway
from billing.models import BillingAccount, Invoice, MeterErrorReport, WebhookEvent

logger = logging.getLogger(__name__)

# When two events of an invoice carry the same second, the later state wins.
INVOICE_STATUS_RANK = {"draft": 0, "open": 1, "uncollectible": 2, "void": 3, "paid": 4}


class Unusable(Exception):
    """A validly signed event with a field we can't use; the message says which."""


# Seconds since the epoch that a datetime can hold and that mean something
# for an invoice: from 1970 to the end of year 9999.
_LAST_TIMESTAMP = 253402300799
# PostgreSQL's text and jsonb can't hold NUL; a lone surrogate can't be encoded.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _at(value: Any, name: str) -> datetime | None:
    """A Stripe timestamp (whole seconds since the epoch), or None when absent."""
    if value is None or value == 0:
        return None
    seconds = _whole(value, name, maximum=_LAST_TIMESTAMP)
    return datetime.fromtimestamp(seconds, tz=UTC)


def _whole(value: Any, name: str, *, maximum: int = 2**63 - 1) -> int:
    """A whole number from 0 to `maximum`; None counts as 0."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unusable(f"{name} is not a whole number.")
    if not 0 <= value <= maximum:
        raise Unusable(f"{name} is out of range.")
    return value


def _text(value: Any, name: str, *, max_length: int) -> str:
    """A string of at most `max_length` characters; None counts as empty."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Unusable(f"{name} is not a string.")
    if len(value) > max_length:
        raise Unusable(f"{name} is longer than {max_length} characters.")
    return value


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Unusable(f"{name} is not an object.")
    return value


def storable(value: Any) -> Any:
    """`value` with what PostgreSQL can't store (NUL, lone surrogates) replaced,
    in keys and strings at any depth; the payload is kept as close to Stripe's
    as the database allows."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def process(event: dict[str, Any]) -> tuple[WebhookEvent, bool]:
    """Store and apply one verified event; returns (row, newly processed).
    The event must carry a string id and type (the view answers 400 when not);
    an event any other field of which we can't use is stored as unusable, with
    the reason, and changes nothing else."""
    event = storable(event)
    event_id = str(event["id"])
    kind = str(event["type"])
    try:
        with transaction.atomic():
            row = WebhookEvent.objects.create(
                stripe_event_id=event_id, type=kind, created=timezone.now(), payload=event
            )
            try:
                with transaction.atomic():
                    created = _at(event.get("created"), "created") or row.created
                    obj = _mapping(_mapping(event.get("data"), "data").get("object"), "data.object")
                    row.created = created
                    row.organization_id, outcome = _apply(kind, obj, created, event_id)
                    row.outcome = outcome[:300]
            except Unusable as error:
                row.status = WebhookEvent.Status.UNUSABLE
                row.outcome = f"Unusable: {error}"[:300]
                logger.warning("Stripe event %s (%s) is unusable: %s", event_id, kind, error)
            row.save(update_fields=["created", "organization", "status", "outcome"])
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
    customer_id = _mapping(customer, "customer").get("id") if isinstance(customer, dict) else customer
    customer_id = _text(customer_id, "customer", max_length=100)
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
    invoice_id = _text(obj.get("id"), "the invoice's id", max_length=100)
    if not invoice_id:
        raise Unusable("the invoice has no id.")
    # Read every field before touching a row, so an unusable one changes nothing.
    status = _text(obj.get("status"), "status", max_length=32)
    fields = {
        "number": _text(obj.get("number"), "number", max_length=100),
        "status": status,
        "currency": _text(obj.get("currency"), "currency", max_length=3) or "usd",
        "period_start": _at(obj.get("period_start"), "period_start"),
        "period_end": _at(obj.get("period_end"), "period_end"),
        "total": _whole(obj.get("total"), "total"),
        "amount_due": _whole(obj.get("amount_due"), "amount_due"),
        "amount_paid": _whole(obj.get("amount_paid"), "amount_paid"),
        "amount_remaining": _whole(obj.get("amount_remaining"), "amount_remaining"),
        "attempt_count": _whole(obj.get("attempt_count"), "attempt_count", maximum=2**31 - 1),
        "hosted_invoice_url": _text(obj.get("hosted_invoice_url"), "hosted_invoice_url", max_length=500),
        "invoice_pdf": _text(obj.get("invoice_pdf"), "invoice_pdf", max_length=500),
    }
    invoice = Invoice.objects.select_for_update().filter(stripe_invoice_id=invoice_id).first()
    newer = invoice is None or (created, INVOICE_STATUS_RANK.get(status, 0)) >= (
        invoice.event_at,
        INVOICE_STATUS_RANK.get(invoice.status, 0),
    )
    if newer:
        invoice = invoice or Invoice(organization_id=account.organization_id, stripe_invoice_id=invoice_id)
        for field, value in fields.items():
            setattr(invoice, field, value)
        invoice.event_at = created
        invoice.updated_at = timezone.now()
        invoice.save()
    assert invoice is not None
    if kind == "invoice.payment_failed" and invoice.status != "paid":
        actions.record_payment_failed(account, invoice.stripe_invoice_id, created)
        return account.organization_id, f"Payment of {invoice.stripe_invoice_id} failed."
    if invoice.status == "paid":
        actions.record_payment_received(account, invoice.stripe_invoice_id)
    return account.organization_id, (
        f"Invoice {invoice.stripe_invoice_id} is {invoice.status}."
        if newer
        else "Older than the invoice state already recorded; not applied."
    )


def _subscription(kind: str, obj: dict[str, Any], created: datetime) -> tuple[int | None, str]:
    account = _account(obj.get("customer"))
    if account is None:
        return None, "Subscription of a customer Switchboard doesn't know; stored only."
    subscription_id = _text(obj.get("id"), "the subscription's id", max_length=100)
    status = _text(obj.get("status"), "status", max_length=32)
    if account.subscription_event_at and created < account.subscription_event_at:
        return account.organization_id, "Older than the subscription state already recorded; not applied."
    status = "canceled" if kind == "customer.subscription.deleted" else status
    if subscription_id == account.stripe_subscription_id or not account.stripe_subscription_id:
        account.subscription_status = status
        account.subscription_event_at = created
        account.save(update_fields=["subscription_status", "subscription_event_at"])
    return account.organization_id, f"Subscription {subscription_id} is {status}."


def _meter_error(obj: dict[str, Any], created: datetime, event_id: str) -> str:
    reason = _mapping(obj.get("reason"), "reason")
    types = reason.get("error_types") or []
    if not isinstance(types, list):
        raise Unusable("reason.error_types is not a list.")
    codes = ", ".join(str(kind.get("code", "")) for kind in types if isinstance(kind, dict))
    meter = obj.get("meter") if isinstance(obj.get("meter"), str) else obj.get("id")
    meter = _text(meter, "meter", max_length=100)
    MeterErrorReport.objects.create(
        stripe_event_id=event_id,
        stripe_meter_id=meter,
        event_name=_text(obj.get("event_name"), "event_name", max_length=100),
        error_count=_whole(reason.get("error_count"), "reason.error_count", maximum=2**31 - 1),
        error_codes=codes[:300],
        summary=(str(obj.get("summary") or "") or codes or "Meter events Stripe could not use")[:500],
        reported_at=created,
    )
    logger.warning("Stripe reported meter errors on %s: %s", meter, codes)
    return f"Meter error report: {codes or 'unknown errors'}."
