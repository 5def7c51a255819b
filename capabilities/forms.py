"""Forms of the toggle pages."""

from django import forms


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
