"""A request to switch a capability (waiting for an owner's or admin's
decision), and an organization's approval policy (the cost limit it sets, the
rule an IT admin sets)."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone

from capabilities.registry import registry
from portal.models import Organization, User


class CapabilityRequest(models.Model):
    """Someone asks for a capability to be switched; another person decides.
    Approving carries the switch out through the toggle action."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Expired"

    class Why(models.TextChoices):
        """Why the switch needs a decision, in words for the approver."""

        MEMBER = "member", "Asked by a member who cannot switch capabilities"
        COST_LIMIT = "cost_limit", "Estimated cost above the organization's approval limit"
        TENANT_RULE = "tenant_rule", "Every switch-on needs approval (set by the platform's IT admins)"

    DECIDED = frozenset({Status.APPROVED, Status.DECLINED, Status.EXPIRED})

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    capability_key = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)  # what is asked: on (True) or off
    reason = models.CharField(max_length=300)
    why = models.CharField(max_length=16, choices=Why.choices, default=Why.MEMBER)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)  # the decider's words to the requester
    # The monthly estimate when it was asked (metering.queries.estimates), for the approver.
    estimate = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    estimate_currency = models.CharField(max_length=3, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "status", "-requested_at"], name="request_org_status"),
            models.Index(
                fields=["expires_at"], name="request_pending_expiry", condition=models.Q(status="pending")
            ),
        ]
        constraints = [
            # One open question per capability and direction: a second asker is told it is asked.
            models.UniqueConstraint(
                fields=["organization", "capability_key", "enabled"],
                condition=models.Q(status="pending"),
                name="one_pending_request_per_switch",
            )
        ]

    def __str__(self) -> str:
        return f"Request {self.pk}: {self.title} {'on' if self.enabled else 'off'}"

    @property
    def title(self) -> str:
        key = self.capability_key
        return registry().get(key).title if key in registry() else key

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    def is_expired_at(self, moment: datetime) -> bool:
        """Expired, or past its time though beat has not marked it yet."""
        return self.status == self.Status.EXPIRED or (self.is_pending and self.expires_at <= moment)


class ApprovalPolicy(models.Model):
    """When switching on needs a second person's approval in an organization:
    above a monthly cost (set by its owners and admins), or always (set by an
    IT admin, with a reason the organization sees)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    # A paid capability whose estimated monthly cost is above this needs approval; None: no limit.
    cost_limit = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    every_switch_on = models.BooleanField(default=False)
    every_switch_on_reason = models.CharField(max_length=300, blank=True)
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "approval policies"

    def __str__(self) -> str:
        return f"Approval policy of {self.organization}"
