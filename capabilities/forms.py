"""Forms of the toggle pages, and the base of job kinds' input forms."""

from __future__ import annotations

import zoneinfo
from datetime import UTC
from typing import TYPE_CHECKING, Any

from django import forms
from django.db.models import Model

if TYPE_CHECKING:
    from portal.models import Organization


class ToggleForm(forms.Form):
    enabled = forms.BooleanField(required=False)
    reason = forms.CharField(
        max_length=300, required=False, widget=forms.TextInput(attrs={"placeholder": "Optional"})
    )
    include_related = forms.BooleanField(required=False)


class ForceForm(forms.Form):
    ACTIONS = [("force_on", "Force on and lock"), ("force_off", "Force off and lock"), ("unlock", "Unlock")]

    action = forms.ChoiceField(choices=ACTIONS)
    reason = forms.CharField(max_length=300, required=False)

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if cleaned.get("action") in ("force_on", "force_off") and not cleaned.get("reason", "").strip():
            self.add_error("reason", "Give a reason: the organization sees it beside the lock.")
        return cleaned


class JobInputForm(forms.Form):
    """The input of a job kind (declared as its `JobKind.input`): it validates
    what the API sends (a JSON object) and what the capability's page posts,
    and turns the cleaned values into the job's JSON input. It knows the
    organization, so a choice of the organization's own objects is scoped."""

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        self.organization = organization
        super().__init__(*args, **kwargs)

    def job_input(self) -> dict[str, Any]:
        """The cleaned values as JSON: objects by primary key, unset ones left out."""
        result: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if value is None or value == "" or value is False:
                continue
            result[name] = value.pk if isinstance(value, Model) else value
        return result


class ScheduleForm(forms.Form):
    """A switch on or off at a later moment: a date and time in the person's
    time zone (the browser fills `time_zone`), or the end of the billing period.
    With `capabilities` (the IT admin's page) it asks which capability too."""

    WHEN = [("moment", "At a date and time"), ("end_of_period", "At the end of this billing period")]

    enabled = forms.TypedChoiceField(
        label="Switch",
        choices=[("on", "On"), ("off", "Off")],
        coerce=lambda value: value == "on",
    )
    when = forms.ChoiceField(label="When", choices=WHEN, initial="moment", widget=forms.RadioSelect)
    at = forms.DateTimeField(
        label="Date and time",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    time_zone = forms.CharField(
        max_length=64, required=False, widget=forms.HiddenInput(attrs={"data-browser-zone": ""})
    )
    include_related = forms.BooleanField(
        label="Also switch the capabilities the change needs (what it needs, or what needs it)",
        required=False,
        initial=True,
    )
    reason = forms.CharField(
        max_length=300,
        required=False,
        label="Reason",
        help_text="Optional, kept in the history.",
    )

    def __init__(self, *args: Any, capabilities: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if capabilities is not None:
            self.fields = {
                "capability": forms.ChoiceField(label="Capability", choices=capabilities),
                **self.fields,
            }

    def clean_time_zone(self) -> str:
        from capabilities.schedules import known_time_zones

        name = self.cleaned_data.get("time_zone") or "UTC"
        if name not in known_time_zones():
            raise forms.ValidationError("Your browser gave a time zone we do not know; reload the page.")
        return name

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if cleaned.get("when") == "moment":
            at = cleaned.get("at")
            if at is None:
                if "at" not in self.errors:
                    self.add_error("at", "Choose a date and time, or the end of this billing period.")
            elif cleaned.get("time_zone"):
                # The field read the wall time in UTC: it is meant in the person's zone.
                local = at.replace(tzinfo=None).replace(tzinfo=zoneinfo.ZoneInfo(cleaned["time_zone"]))
                try:
                    local.astimezone(UTC)
                except OverflowError:
                    self.add_error("at", "Choose a date between now and a year ahead.")
                else:
                    cleaned["at"] = local
        return cleaned
