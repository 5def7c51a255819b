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


class StartJobForm(forms.Form):
    kind = forms.ChoiceField(label="Job")
    input = forms.JSONField(
        label="Input",
        required=False,
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "mono"}),
        help_text="JSON object with the job's parameters.",
    )

    def __init__(self, *args: object, kinds: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["kind"].choices = [(kind, kind.replace("_", " ").capitalize()) for kind in kinds]  # type: ignore[attr-defined]

    def clean_input(self) -> dict:
        value = self.cleaned_data.get("input") or {}
        if not isinstance(value, dict):
            raise forms.ValidationError('The input must be a JSON object, like {"pages": 3}.')
        return value
