"""Billing's records: the versioned price book, what exists on Stripe for each
meter and organization, every usage push (the outbox of meter events), the
reconciliation runs and their lines, webhook events stored by id, invoices and
meter error reports.

Money is Decimal (prices, up to 12 decimal places as Stripe's
`unit_amount_decimal`) or integer minor units (invoice amounts); quantities
are whole units."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from portal.models import Organization, User


class PriceVersion(models.Model):
    """One version of a meter's price. A change is a new version (and a new
    Stripe Price); old versions stay as history. A version applies from
    `effective_from`, the start of a billing period."""

    capability = models.CharField(max_length=64)
    meter = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=24, decimal_places=12)  # per unit, in `currency`
    currency = models.CharField(max_length=3, default="usd")
    effective_from = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    stripe_price_id = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["capability", "meter", "version"], name="one_price_version")
        ]
        ordering = ["capability", "meter", "-version"]

    def __str__(self) -> str:
        return f"{self.capability}.{self.meter} v{self.version}: {self.unit_price} {self.currency}"


class StripeMeter(models.Model):
    """The Billing Meter (and its Product) for one capability meter."""

    capability = models.CharField(max_length=64)
    meter = models.CharField(max_length=64)
    event_name = models.CharField(max_length=100, unique=True)
    stripe_meter_id = models.CharField(max_length=100, blank=True)
    stripe_product_id = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["capability", "meter"], name="one_stripe_meter")]

    def __str__(self) -> str:
        return f"{self.capability}.{self.meter} -> {self.stripe_meter_id or 'not synced'}"


class BillingAccount(models.Model):
    """An organization's side of Stripe: its Customer, its one subscription, and
    its payment standing (from webhooks)."""

    class Payment(models.TextChoices):
        OK = "ok", "In good standing"
        FAILED = "failed", "Payment failed"

    organization = models.OneToOneField(Organization, on_delete=models.PROTECT, related_name="billing")
    stripe_customer_id = models.CharField(max_length=100, blank=True)
    stripe_subscription_id = models.CharField(max_length=100, blank=True)
    subscription_status = models.CharField(max_length=32, blank=True)
    subscription_event_at = models.DateTimeField(null=True, blank=True)  # newest subscription event applied
    payment_status = models.CharField(max_length=16, choices=Payment.choices, default=Payment.OK)
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    payment_failed_invoice = models.CharField(max_length=100, blank=True)
    restricted_at = models.DateTimeField(null=True, blank=True)  # paid capabilities restricted since
    synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.organization} ({self.stripe_customer_id or 'no customer yet'})"


class SubscriptionItem(models.Model):
    """One metered price on an organization's subscription. An item whose
    capability was switched off stays until the end of the period (its usage is
    still invoiced) and is removed then if the capability is still off."""

    account = models.ForeignKey(BillingAccount, on_delete=models.CASCADE, related_name="items")
    capability = models.CharField(max_length=64)
    meter = models.CharField(max_length=64)
    price = models.ForeignKey(PriceVersion, on_delete=models.PROTECT, related_name="+")
    stripe_item_id = models.CharField(max_length=100)
    remove_after = models.DateTimeField(null=True, blank=True)  # set while the capability is off

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "capability", "meter"], name="one_item_per_meter")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.capability}.{self.meter} ({self.stripe_item_id})"


class UsagePush(models.Model):
    """One meter event sent (or to be sent) to Stripe: the total, or a later
    delta, of one organization's meter over one closed hour. The identifier is
    deterministic (`<org>:<capability>.<meter>:<window start>:<seq>`), so a
    retried send can never count twice on Stripe's side."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        CANCELLED = "cancelled", "Cancelled on Stripe"
        REJECTED = "rejected", "Rejected by Stripe"

    class Source(models.TextChoices):
        PUSH = "push", "Periodic push"
        RECONCILIATION = "reconciliation", "Reconciliation re-push"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    capability = models.CharField(max_length=64)
    meter = models.CharField(max_length=64)
    window_start = models.DateTimeField()  # the UTC hour the usage belongs to
    seq = models.PositiveIntegerField()
    quantity = models.BigIntegerField()
    identifier = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.PUSH)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Last time reconciliation sent this event again under its own identifier
    # (it was not in Stripe's summaries; Stripe counts an identifier once).
    resent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "capability", "meter", "window_start", "seq"], name="one_push_per_seq"
            )
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["organization", "capability", "meter", "window_start"]),
        ]

    def __str__(self) -> str:
        return f"{self.identifier} = {self.quantity} ({self.status})"


class PushCursor(models.Model):
    """How far the planner has read the ledger (by `recorded_at`); one row."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    recorded_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"ledger read until {self.recorded_until:%Y-%m-%d %H:%M:%S}"


class ReconciliationRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        # Finished, but Stripe could not be read for some organization-meters
        # (their lines are "unavailable"): the next run looks at them again.
        PARTIAL = "partial", "Done with problems"
        FAILED = "failed", "Failed"

    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    checked_until = models.DateTimeField()  # usage after this was not settled yet
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    triggered_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    matched = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    excess = models.PositiveIntegerField(default=0)
    unexplained = models.PositiveIntegerField(default=0)
    settling = models.PositiveIntegerField(default=0)
    unavailable = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Reconciliation {self.pk} of {self.period_start:%Y-%m} ({self.status})"

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 100 if self.finished_ok else 0
        return min(100, round(100 * self.progress_done / self.progress_total))

    @property
    def finished_ok(self) -> bool:
        """Done, with or without unavailable lines (not failed, not in progress)."""
        return self.status in (self.Status.DONE, self.Status.PARTIAL)

    @property
    def finished(self) -> bool:
        return self.finished_ok or self.status == self.Status.FAILED


class ReconciliationLine(models.Model):
    class Status(models.TextChoices):
        MATCHED = "matched", "Matched"
        MISSING = "missing", "Missing in Stripe"
        EXCESS = "excess", "Excess in Stripe"
        UNEXPLAINED = "unexplained", "Unexplained"
        SETTLING = "settling", "Settling"
        UNAVAILABLE = "unavailable", "Stripe unavailable"

    class Action(models.TextChoices):
        NONE = "none", "None needed"
        REPUSHED = "repushed", "Re-pushed the difference"
        WAITING = "waiting", "Waiting for pending pushes"
        CANCELLED = "cancelled", "Cancelled events on Stripe"
        CREDIT_NOTE = "credit_note", "Flagged for a credit note"
        REVIEW = "review", "Flagged for review"

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="lines")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    capability = models.CharField(max_length=64)
    meter = models.CharField(max_length=64)
    day = models.DateField()
    local_quantity = models.BigIntegerField()
    stripe_quantity = models.BigIntegerField(null=True, blank=True)  # None: Stripe could not be read
    status = models.CharField(max_length=16, choices=Status.choices)
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.NONE)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["day", "organization_id", "capability", "meter"]
        indexes = [models.Index(fields=["run", "status"])]

    def __str__(self) -> str:
        return f"{self.day} {self.organization_id} {self.capability}.{self.meter}: {self.status}"

    @property
    def difference(self) -> int | None:
        if self.stripe_quantity is None:
            return None
        return self.stripe_quantity - self.local_quantity


class WebhookEvent(models.Model):
    """A Stripe event, stored by its id: a redelivered event is recognised and
    not processed again."""

    stripe_event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    created = models.DateTimeField()  # Stripe's creation time of the event
    received_at = models.DateTimeField(default=timezone.now)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Status(models.TextChoices):
        PROCESSED = "processed", "processed"
        # Validly signed, but a field we need has a shape we can't use (an
        # invoice without id, a total that isn't a whole number...): stored
        # with the reason in `outcome`, nothing applied.
        UNUSABLE = "unusable", "unusable"

    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROCESSED)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.stripe_event_id} {self.type}"


class Invoice(models.Model):
    """Stripe's invoice as last reported by a webhook (the newest event wins,
    whatever order they arrive in)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    stripe_invoice_id = models.CharField(max_length=100, unique=True)
    number = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=32)
    currency = models.CharField(max_length=3, default="usd")
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    total = models.BigIntegerField(default=0)  # minor units (cents)
    amount_due = models.BigIntegerField(default=0)
    amount_paid = models.BigIntegerField(default=0)
    amount_remaining = models.BigIntegerField(default=0)
    attempt_count = models.PositiveIntegerField(default=0)
    hosted_invoice_url = models.URLField(max_length=500, blank=True)
    invoice_pdf = models.URLField(max_length=500, blank=True)
    event_at = models.DateTimeField()  # creation time of the event this state came from
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period_start", "-id"]

    def __str__(self) -> str:
        return f"{self.stripe_invoice_id} {self.status} {self.total} {self.currency}"


class MeterErrorReport(models.Model):
    """Stripe's report of meter events it could not use."""

    stripe_event_id = models.CharField(max_length=100, unique=True)
    stripe_meter_id = models.CharField(max_length=100, blank=True)
    event_name = models.CharField(max_length=100, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    error_codes = models.CharField(max_length=300, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    reported_at = models.DateTimeField()

    class Meta:
        ordering = ["-reported_at"]

    def __str__(self) -> str:
        return f"{self.event_name}: {self.error_count} errors ({self.error_codes})"
