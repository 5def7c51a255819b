"""The rule form: which capability, on which outcome, to whom."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from capabilities.forms import JobInputForm
from capabilities.notifications.models import Channel, Delivery, Rule
from capabilities.notifications.queries import capability_choices
from capabilities.notifications.targets import clean_target


class RuleForm(forms.Form):
    capability = forms.ChoiceField(label="When a job of")
    event = forms.ChoiceField(label="Finishes and", choices=Rule.Event.choices, initial=Rule.Event.BOTH)
    channel = forms.ChoiceField(label="Notify by", choices=Channel.choices)
    within_days = forms.IntegerField(
        label="Days before the deadline",
        min_value=1,
        max_value=365,
        required=False,
        help_text="Only for “has a contract notice deadline within N days”: N.",
    )
    target = forms.CharField(
        label="Email address or webhook URL",
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "ops@example.com or https://hooks.example.com/in"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["capability"].choices = capability_choices()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("event") == Rule.Event.DEADLINE_NEAR and cleaned.get("within_days") is None:
            self.add_error("within_days", "Say how many days before a notice deadline to notify.")
        elif cleaned.get("event") != Rule.Event.DEADLINE_NEAR:
            cleaned["within_days"] = None
        channel, target = cleaned.get("channel"), cleaned.get("target")
        if channel and target is not None:
            try:
                cleaned["target"] = clean_target(channel, target)
            except ValidationError as error:
                self.add_error("target", error)
        return cleaned


class DeliverInput(JobInputForm):
    """The input of a delivery job: one of the organization's deliveries and
    the attempt it makes."""

    delivery = forms.ModelChoiceField(
        queryset=Delivery.objects.none(),
        error_messages={"invalid_choice": "Your organization has no delivery with this id."},
    )
    attempt = forms.IntegerField(min_value=1, max_value=100)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["delivery"].queryset = Delivery.objects.filter(organization=self.organization)  # type: ignore[attr-defined]
