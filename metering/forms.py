"""Forms of the usage pages: the range selector, finance's corrections, and
budgets and platform caps."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from metering import budgets, meter_prices
from metering.actions import MAX_BUDGET, MAX_THRESHOLDS
from metering.budgets import DEFAULT_THRESHOLDS
from metering.models import Budget
from metering.periods import RANGES, Period, period_for
from portal.actions.errors import ActionError
from portal.models import Organization

MAX_RANGE_DAYS = 366
MAX_CORRECTION = 10**12


class RangeForm(forms.Form):
    """Which period a usage page shows: a preset or custom days (UTC)."""

    range = forms.ChoiceField(choices=list(RANGES.items()), required=False)
    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start: date | None = cleaned.get("start")
        end: date | None = cleaned.get("end")
        choice = cleaned.get("range") or ("custom" if start or end else "month")
        if choice == "custom":
            if start is None or end is None:
                raise forms.ValidationError("Choose both the first and the last day of a custom range.")
            if start > end:
                raise forms.ValidationError("The first day must not be after the last day.")
            if (end - start).days + 1 > MAX_RANGE_DAYS:
                raise forms.ValidationError(f"Choose at most {MAX_RANGE_DAYS} days.")
        cleaned["range"] = choice
        return cleaned

    def period(self, now: datetime) -> Period:
        """The chosen period; the current billing period when the form is invalid."""
        if not self.is_valid():
            return period_for("month", now)
        return period_for(
            self.cleaned_data["range"], now, first=self.cleaned_data["start"], last=self.cleaned_data["end"]
        )

    @property
    def choice(self) -> str:
        return self.cleaned_data["range"] if self.is_valid() else "month"


def meter_choices() -> list[tuple[str, str]]:
    return [
        (f"{info.capability}.{info.meter}", f"{info.capability_title} · {info.meter} ({info.unit})")
        for info in sorted(
            meter_prices.meters(), key=lambda info: (info.capability_title.lower(), info.meter)
        )
    ]


class CorrectionForm(forms.Form):
    """A correction: a signed quantity of one meter for one organization, with a reason."""

    organization = forms.SlugField(
        label="Organization", help_text="The organization's slug, e.g. acme.", max_length=60
    )
    meter = forms.ChoiceField(label="Capability and meter", choices=meter_choices)
    quantity = forms.IntegerField(
        label="Quantity",
        help_text="Whole units; negative to take usage back, positive to add it.",
        min_value=-MAX_CORRECTION,
        max_value=MAX_CORRECTION,
    )
    applies_to = forms.DateField(
        label="Day it applies to",
        required=False,
        help_text="Optional (UTC). The correction counts in this day's billing period; today if empty.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    reason = forms.CharField(
        label="Reason",
        max_length=300,
        help_text="Shown in the ledger and the audit log.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_organization(self) -> Organization:
        slug = self.cleaned_data["organization"]
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise forms.ValidationError(f"No organization has the slug “{slug}”.")
        return organization

    def clean_quantity(self) -> int:
        quantity: int = self.cleaned_data["quantity"]
        if quantity == 0:
            raise forms.ValidationError(
                "A correction of zero changes nothing; enter a positive or negative number."
            )
        return quantity

    def clean_applies_to(self) -> date | None:
        day: date | None = self.cleaned_data.get("applies_to")
        if day is not None and day > timezone.now().astimezone(UTC).date():
            raise forms.ValidationError("A correction cannot apply to a day in the future.")
        return day

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why: corrections are audited.")
        return reason

    @property
    def capability_and_meter(self) -> tuple[str, str]:
        capability, _, meter = self.cleaned_data["meter"].partition(".")
        return capability, meter

    @property
    def occurred_at(self) -> datetime | None:
        """Noon UTC of the chosen day (inside that day whatever the rounding), or now."""
        day: date | None = self.cleaned_data.get("applies_to")
        if day is None or day == timezone.now().astimezone(UTC).date():
            return None
        return datetime.combine(day, time(12), UTC)


# --- budgets -------------------------------------------------------------------------

ALL_CAPABILITIES = ""  # the capability choice of a total budget


def _capability_choices() -> list[tuple[str, str]]:
    covered = budgets.covered_capabilities()
    by_title = sorted(covered.items(), key=lambda item: item[1].lower())
    return [(ALL_CAPABILITIES, "All capabilities"), *by_title]


class BudgetForm(forms.Form):
    """A budget as people set it on /usage/: what it covers, the monthly limit,
    what happens when it is reached, and when alerts go out. The rules
    (amount, thresholds, one budget per scope) are metering.actions.save_budget's;
    this form turns text into their types and says what is wrong in words."""

    capability = forms.ChoiceField(label="Covers", required=False)
    amount = forms.DecimalField(
        label="Monthly limit",
        min_value=Decimal(0),
        max_value=MAX_BUDGET - Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        error_messages={
            "required": "Enter the monthly limit, such as 50.00.",
            "invalid": "Enter the limit as a number, such as 50.00.",
            "min_value": "The limit cannot be negative.",
            "max_value": "The limit must be under 10 billion.",
            "max_decimal_places": "Use at most two decimals, such as 12.50.",
        },
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )
    action = forms.ChoiceField(
        label="When it is reached",
        choices=[
            (Budget.Action.STOP, "Stop new jobs and API calls"),
            (Budget.Action.ALERT, "Only send alerts"),
        ],
        initial=Budget.Action.STOP,
        widget=forms.RadioSelect,
    )
    thresholds = forms.CharField(
        label="Alert at (% of the limit)",
        required=False,
        initial=", ".join(str(level) for level in DEFAULT_THRESHOLDS),
        help_text="Whole percents from 1 to 100, separated by commas. Leave empty for no alerts.",
        max_length=60,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["capability"].choices = _capability_choices()  # type: ignore[attr-defined]

    @classmethod
    def of(cls, budget: Budget, **kwargs: Any) -> BudgetForm:
        """The form of an existing budget, filled in with its values."""
        return cls(
            initial={
                "capability": budget.capability or ALL_CAPABILITIES,
                "amount": budget.amount,
                "action": budget.action,
                "thresholds": ", ".join(str(level) for level in budget.thresholds),
                "reason": budget.reason,
            },
            **kwargs,
        )

    def clean_capability(self) -> str | None:
        return self.cleaned_data.get("capability") or None

    def clean_thresholds(self) -> list[int]:
        text = self.cleaned_data.get("thresholds", "")
        levels = []
        for part in text.replace(";", ",").split(","):
            part = part.strip().rstrip("%").strip()
            if not part:
                continue
            if not part.isdigit() or not 1 <= int(part) <= 100:
                raise forms.ValidationError(
                    f"{part!r} is not a whole percent from 1 to 100; write them like 50, 80, 100."
                )
            levels.append(int(part))
        if len(set(levels)) > MAX_THRESHOLDS:
            raise forms.ValidationError(f"At most {MAX_THRESHOLDS} alert levels.")
        return sorted(set(levels))

    def budget_fields(self) -> dict[str, Any]:
        """The cleaned values, as metering.actions.save_budget takes them."""
        return {
            "capability": self.cleaned_data["capability"],
            "amount": self.cleaned_data["amount"],
            "action": self.cleaned_data["action"],
            "thresholds": self.cleaned_data["thresholds"],
        }

    def add_refusal(self, refusal: ActionError) -> None:
        """Show an action's refusal next to the field it is about."""
        field = REFUSAL_FIELDS.get(refusal.code)
        self.add_error(field if field in self.fields else None, refusal.message)


REFUSAL_FIELDS = {
    "invalid_amount": "amount",
    "invalid_thresholds": "thresholds",
    "invalid_action": "action",
    "unknown_capability": "capability",
    "budget_exists": "capability",
    "reason_required": "reason",
}


class PlatformCapForm(BudgetForm):
    """A platform cap, set by finance or IT admins on a tenant: a budget the
    organization cannot change, with the reason it is shown."""

    reason = forms.CharField(
        label="Why the cap is set (the organization sees it)",
        max_length=300,
        error_messages={"required": "Say why the cap is set: the organization sees the reason."},
        widget=forms.TextInput(attrs={"placeholder": "e.g. Invoices overdue since October"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = "Monthly cap"

    def budget_fields(self) -> dict[str, Any]:
        return {**super().budget_fields(), "platform": True, "reason": self.cleaned_data["reason"]}


class FinanceCapForm(PlatformCapForm):
    """A platform cap set from /finance/: the organization is chosen in the form."""

    organization = forms.ModelChoiceField(
        queryset=Organization.objects.order_by("name"),
        to_field_name="slug",
        empty_label="Choose an organization",
        error_messages={"invalid_choice": "Choose an organization from the list."},
    )

    field_order = ["organization", "capability", "amount", "action", "thresholds", "reason"]


def capability_choices() -> list[tuple[str, str]]:
    """Installed capabilities with meters, by title: those usage can spike."""
    titles = {info.capability: info.capability_title for info in meter_prices.meters()}
    return sorted(titles.items(), key=lambda pair: pair[1].lower())


class HoldForm(forms.Form):
    """Hold a capability's new jobs when its usage spikes, or stop doing so."""

    capability = forms.ChoiceField(choices=capability_choices)
    hold = forms.TypedChoiceField(
        choices=[("on", "Hold new jobs on a spike"), ("off", "Keep running")],
        coerce=lambda value: value == "on",
    )
