"""Forms of the usage pages: the range selector and finance's corrections."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from django import forms
from django.utils import timezone

from metering import meter_prices
from metering.periods import RANGES, Period, period_for
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
