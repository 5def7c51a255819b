"""Forms of the toggle pages, and the base of job kinds' input forms."""

from __future__ import annotations

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
