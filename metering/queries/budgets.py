"""Read models of budgets: one budget of an organization (or None, so that
callers answer 404), and finance's list of the organizations at or over a
budget, across every organization in one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import F
from django.db.models.functions import NullIf
from django.utils import timezone

from metering.budgets import period_start, scope_name
from metering.models import Budget
from portal.models import Organization

# A budget this far used counts as "at budget" on finance's page (the 80 % alert).
AT_BUDGET_SHARE = Decimal("0.8")


def budget_of(organization: Organization, budget_id: int) -> Budget | None:
    """The organization's budget `budget_id`, or None when it has no such budget
    (another organization's id is None too: the caller answers 404)."""
    return Budget.objects.filter(organization=organization, pk=budget_id).first()


def platform_caps() -> list[Budget]:
    """Every organization's platform caps, for finance (one query)."""
    return list(
        Budget.objects.filter(platform=True)
        .select_related("organization")
        .order_by("organization__name", "capability")
    )


@dataclass(frozen=True)
class BudgetAtRisk:
    """A budget used to 80 % or more this month, for finance."""

    budget_id: int
    organization_id: int
    organization_slug: str
    organization_name: str
    capability: str | None
    amount: Decimal
    spent: Decimal
    currency: str
    action: str
    platform: bool

    @property
    def scope(self) -> str:
        return scope_name(self.capability)

    @property
    def percent(self) -> int:
        if self.amount <= 0:
            return 100
        return int(self.spent * 100 / self.amount)

    @property
    def stopped(self) -> bool:
        return self.action == Budget.Action.STOP and self.spent >= self.amount


def budgets_at_risk(*, now: datetime | None = None, limit: int = 200) -> list[BudgetAtRisk]:
    """Every organization's budgets spent to 80 % or more this month (a reached
    stop budget among them), most used first: one query over the budgets'
    counters (exact priced usage, set by each job's charge and refreshed from
    the rollups every minute by metering.budgets.recompute), never a query per
    organization."""
    start = period_start(now or timezone.now())
    rows = (
        Budget.objects.filter(period_start=start, spent__gte=F("amount") * AT_BUDGET_SHARE)
        .select_related("organization")
        # Most used first (a zero amount is used up by anything: first of all).
        .annotate(share=F("spent") / NullIf(F("amount"), Decimal(0)))
        .order_by(F("share").desc(nulls_first=True), "organization__name", "capability", "platform")[:limit]
    )
    found = [
        BudgetAtRisk(
            budget_id=budget.pk,
            organization_id=budget.organization_id,
            organization_slug=budget.organization.slug,
            organization_name=budget.organization.name,
            capability=budget.capability,
            amount=budget.amount,
            spent=budget.spent.quantize(Decimal("0.01")),
            currency=budget.currency,
            action=budget.action,
            platform=budget.platform,
        )
        for budget in rows
    ]
    return found
