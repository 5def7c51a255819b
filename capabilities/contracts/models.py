"""What the contract tracker read in a document (each value with its
citation), the corrections people made, and the deadlines it announced."""

from __future__ import annotations

from datetime import date

from django.db import models
from django.utils import timezone

from capabilities.contracts.fields import current_term_end, next_notice_deadline
from capabilities.documents.models import Document
from capabilities.models import Job
from portal.models import Organization, User


class Contract(models.Model):
    """One document's analysis. A value of None is unknown: the document does
    not say (and nothing is guessed). `citations` maps a field to the spans it
    was read from ([{page, start, end, quote}], one per termination clause);
    `computed` lists the fields derived from others (expiry date, notice
    deadline); `corrected` the fields a person set, which re-analysis keeps."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    document = models.OneToOneField(Document, on_delete=models.CASCADE, related_name="contract")
    is_contract = models.BooleanField(default=False)
    parties = models.JSONField(null=True, blank=True)  # list of names
    effective_date = models.DateField(null=True, blank=True)
    term_months = models.PositiveIntegerField(null=True, blank=True)
    expiry_date = models.DateField(null=True, blank=True)
    auto_renews = models.BooleanField(null=True, blank=True)
    renewal_term_months = models.PositiveIntegerField(null=True, blank=True)
    notice_period_days = models.PositiveIntegerField(null=True, blank=True)
    # The last day to give notice before it renews: expiry minus notice period.
    notice_deadline = models.DateField(null=True, blank=True)
    # The end of the term running now: `expiry_date` (the first term's end)
    # until it has passed, then, for a contract that renews automatically, the
    # end of the renewal term running (kept current by the daily check).
    current_term_end = models.DateField(null=True, blank=True)
    # The first notice deadline not yet passed: `notice_deadline`, or once it
    # has passed, the deadline of the renewal term running now (kept current
    # by the daily deadline check). What the table sorts and filters by.
    next_notice_deadline = models.DateField(null=True, blank=True)
    termination_clauses = models.JSONField(null=True, blank=True)  # list of quotes
    governing_law = models.CharField(max_length=200, null=True, blank=True)
    citations = models.JSONField(default=dict, blank=True)
    computed = models.JSONField(default=list, blank=True)
    corrected = models.JSONField(default=list, blank=True)
    analysed_at = models.DateTimeField(default=timezone.now)
    analysed_by = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The document's extracted content this analysis read (documents' extracted_sha256).
    source_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = [models.F("next_notice_deadline").asc(nulls_last=True), "pk"]
        indexes = [models.Index(fields=["organization", "is_contract", "next_notice_deadline"])]

    def __str__(self) -> str:
        return f"contract of {self.document}"

    def schedule(self, today: date) -> None:
        """Set `current_term_end` and `next_notice_deadline` as of `today` (see
        fields.current_term_end and fields.next_notice_deadline); a contract that
        does not renew keeps its expiry date, passed or not."""
        self.current_term_end = (
            current_term_end(self.expiry_date, self.renewal_term_months, today)
            if self.auto_renews is not False
            else self.expiry_date
        )
        self.next_notice_deadline = (
            next_notice_deadline(self.notice_deadline, self.expiry_date, self.renewal_term_months, today)
            if self.auto_renews is not False
            else (self.notice_deadline if self.notice_deadline and self.notice_deadline >= today else None)
        )


class ContractCorrection(models.Model):
    """A person's correction of one field: it wins over any later analysis."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="corrections")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    field = models.CharField(max_length=32)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    corrected_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    corrected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-corrected_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.field} of {self.contract_id}: {self.old_value!r} -> {self.new_value!r}"


class DeadlineAnnouncement(models.Model):
    """The deadline signal was sent for this contract and deadline on this day:
    a second run of the daily task that day sends nothing."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="+")
    notice_deadline = models.DateField()
    announced_on = models.DateField()
    days_left = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "notice_deadline", "announced_on"],
                name="contracts_one_announcement_a_day",
            )
        ]

    def __str__(self) -> str:
        return (
            f"deadline {self.notice_deadline} of contract {self.contract_id}, announced {self.announced_on}"
        )
