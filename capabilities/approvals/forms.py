"""Forms of capability requests: asking, deciding, and the approval policy."""

from __future__ import annotations

from typing import Any

from django import forms

from capabilities.registry import registry


class RequestForm(forms.Form):
    capability = forms.ChoiceField(label="Capability")
    # Asking is for switching on, unless the form says off (cleaned to a bool).
    enabled = forms.ChoiceField(
        label="Switch",
        choices=[("on", "On"), ("off", "Off")],
        required=False,
        initial="on",
        widget=forms.HiddenInput,
    )
    reason = forms.CharField(
        label="Why do you need it?",
        max_length=300,
        help_text="The owners and admins decide on it; it stays in the capability's history.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Extract invoice totals for the March close"}),
        error_messages={"required": "Say why you need it: the owners and admins decide on your reason."},
    )

    def clean_enabled(self) -> bool:
        return self.cleaned_data.get("enabled") != "off"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["capability"].choices = [(c.key, c.title) for c in registry()]  # type: ignore[attr-defined]
        self.fields["capability"].error_messages["invalid_choice"] = (
            "No such capability is installed; pick one from the list."
        )


class DecisionForm(forms.Form):
    note = forms.CharField(
        label="Note to the requester",
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Optional"}),
    )


class CostLimitForm(forms.Form):
    cost_limit = forms.DecimalField(
        label="Approval needed above",
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        help_text="A month, estimated. Leave empty for no limit: owners and admins switch on what they need.",
        error_messages={
            "invalid": "Enter an amount such as 100 or 250.50.",
            "min_value": "The limit can't be negative.",
            "max_decimal_places": "Give the amount in cents at most (two decimals).",
        },
    )


class TenantRuleForm(forms.Form):
    every_switch_on = forms.BooleanField(
        label="Every switch-on needs a second person's approval", required=False
    )
    reason = forms.CharField(label="Why (the organization sees it)", max_length=300, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("every_switch_on") and not cleaned.get("reason", "").strip():
            self.add_error("reason", "Give a reason: the organization sees it when it asks.")
        return cleaned
