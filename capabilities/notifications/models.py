"""Notification rules of an organization, the deliveries they cause, and each
delivery's attempts."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from capabilities.models import Job
from portal.models import Organization, User


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


# The meter a delivered message of each channel counts on.
METER_OF_CHANNEL = {Channel.EMAIL: "emails", Channel.WEBHOOK: "webhooks"}


class Rule(models.Model):
    """When a job of `capability` ends with `event`, notify `target` (an email
    address or a webhook URL) over `channel`. Event `deadline_near`: when a
    contract's notice deadline tracked by `capability` is at most
    `within_days` days away (the framework's `contract_deadline_near`)."""

    class Event(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeds"
        FAILED = "failed", "Fails"
        BOTH = "both", "Succeeds or fails"
        DEADLINE_NEAR = "deadline_near", "Has a contract notice deadline within N days"

    JOB_EVENTS = frozenset({Event.SUCCEEDED, Event.FAILED, Event.BOTH})

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    capability = models.CharField(max_length=64)
    event = models.CharField(max_length=16, choices=Event.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    target = models.CharField(max_length=500)
    within_days = models.PositiveSmallIntegerField(null=True, blank=True)  # deadline_near only
    # Webhooks are signed with this rule's own secret (HMAC-SHA256), shown to
    # owners and admins so the receiver can verify.
    secret = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["capability", "id"]
        indexes = [models.Index(fields=["organization", "capability"])]

    def __str__(self) -> str:
        return f"{self.capability} {self.event} -> {self.channel} {self.target}"

    def matches(self, status: str) -> bool:
        return self.event in (status, self.Event.BOTH)

    @property
    def event_text(self) -> str:
        if self.event == self.Event.DEADLINE_NEAR:
            return f"Has a contract notice deadline within {self.within_days} days"
        return self.get_event_display()


class Delivery(models.Model):
    """One message to send: made by a rule when a job finished, or by a test
    send. Attempted once plus once per NOTIFICATIONS_RETRY_DELAYS entry, one job per attempt."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Retrying"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    FINAL = frozenset({Status.DELIVERED, Status.FAILED})

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    target = models.CharField(max_length=500)
    event = models.CharField(
        max_length=32
    )  # "job.succeeded", "job.failed", "contract.deadline_near" or "test"
    # What the message is about when it is not a job ("contract:<id>:<deadline>"):
    # a rule tells about it once.
    subject_key = models.CharField(max_length=100, blank=True)
    payload = models.JSONField(default=dict)
    source_job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    # The job making (or that made) the current attempt: a second job for the
    # same attempt (a duplicated retry message) finds another id and stands down.
    current_job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"])]
        constraints = [
            # A rule notifies about a job once, whatever the signal does.
            models.UniqueConstraint(fields=["rule", "source_job"], name="one_delivery_per_rule_and_job"),
            models.UniqueConstraint(
                fields=["rule", "subject_key"],
                condition=~models.Q(subject_key=""),
                name="one_delivery_per_rule_and_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.event}) to {self.target}: {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def meter(self) -> str:
        return METER_OF_CHANNEL[Channel(self.channel)]


class Attempt(models.Model):
    """One try at sending a delivery: when, how long, the answer or the error."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_per_number")]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
