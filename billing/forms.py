"""Forms of the finance billing pages: a price change and starting a
reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django import forms
from django.utils import timezone

from billing.price_book import MAX_DECIMAL_PLACES
from capabilities.registry import registry
from metering.periods import billing_period


def meter_choices() -> list[tuple[str, str]]:
    return [
        (
            f"{capability.key}.{meter.key}",
            f"{capability.title} — {meter.unit} ({meter.key})"
            + (f", version {meter.version} only" if meter.version else ""),
        )
        for capability in registry()
        for meter in capability.all_meters
    ]


def period_starts(count: int, *, first_offset: int) -> list[datetime]:
    """Starts of `count` billing periods from `first_offset` periods after the current one."""
    start = billing_period(timezone.now()).start
    starts = []
    for offset in range(first_offset, first_offset + count):
        month = start.month - 1 + offset
        starts.append(datetime(start.year + month // 12, month % 12 + 1, 1, tzinfo=UTC))
    return starts


class PriceChangeForm(forms.Form):
    meter = forms.ChoiceField(choices=meter_choices)
    unit_price = forms.DecimalField(
        label="New price per unit (USD)",
        min_value=Decimal(0),
        max_digits=22,
        decimal_places=MAX_DECIMAL_PLACES,
        help_text=f"Up to {MAX_DECIMAL_PLACES} decimal places, e.g. 0.0125.",
    )
    effective_from = forms.TypedChoiceField(
        label="Applies from",
        coerce=lambda value: datetime.fromisoformat(value),
        help_text="Prices change at the start of a billing period, so every invoice uses one price.",
    )
    note = forms.CharField(max_length=300, help_text="Why the price changes; kept with the history.")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["effective_from"].choices = [  # type: ignore[attr-defined]
            (start.isoformat(), f"1 {start:%B %Y}") for start in period_starts(12, first_offset=1)
        ]

    @property
    def capability_and_meter(self) -> tuple[str, str]:
        capability, _, meter = self.cleaned_data["meter"].partition(".")
        return capability, meter


class ReconciliationForm(forms.Form):
    period = forms.TypedChoiceField(
        label="Billing period",
        coerce=lambda value: datetime.fromisoformat(value),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        current, previous = period_starts(1, first_offset=0)[0], period_starts(1, first_offset=-1)[0]
        self.fields["period"].choices = [  # type: ignore[attr-defined]
            (current.isoformat(), f"{current:%B %Y} (current)"),
            (previous.isoformat(), f"{previous:%B %Y}"),
        ]
