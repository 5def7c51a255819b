"""Forms of the external capabilities pages (/manage/capabilities/). They only
shape what was typed; capabilities.services.check is the one validation,
shared with the API, and its messages land on these fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from capabilities import services
from capabilities.models import ExternalCapability, key_validator
from capabilities.registry import registry


class ServiceForm(forms.Form):
    key = forms.CharField(
        max_length=40,
        help_text="Stable identifier: the flag key, the CloudEvents type prefix and the Stripe meter "
        "names. Never changes.",
        widget=forms.TextInput(attrs={"placeholder": "translation", "autocomplete": "off"}),
        # The model's own rule (check applies it too), so a bad key shows with the other fields' errors.
        validators=[key_validator],
    )
    name = forms.CharField(max_length=80, widget=forms.TextInput(attrs={"placeholder": "Translation"}))
    summary = forms.CharField(max_length=200, required=False, help_text="One line for the catalog card.")
    category = forms.CharField(max_length=60, initial="Services")
    version = forms.CharField(max_length=40, initial="1.0.0", label="Stable version")
    beta_version = forms.CharField(
        max_length=40,
        required=False,
        help_text="Optional: a version organizations can opt in to. The flag's metadata says which "
        "one each organization runs.",
    )
    beta_notes = forms.CharField(max_length=300, required=False, label="What the beta changes")
    documentation_url = forms.URLField(
        max_length=500, required=False, assume_scheme="https", label="Documentation link"
    )
    health_url = forms.URLField(
        max_length=500,
        required=False,
        assume_scheme="https",
        label="Health URL",
        help_text="Asked with a GET from the health page and /metrics: up on a 2xx answer within 2 s.",
    )
    dependencies = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Capabilities an organization must have on to switch this one on.",
    )

    def __init__(self, *args: Any, service: ExternalCapability | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service = service
        dependencies = self.fields["dependencies"]
        assert isinstance(dependencies, forms.MultipleChoiceField)
        dependencies.choices = [
            (capability.key, capability.title)
            for capability in registry()
            if service is None or capability.key != service.key
        ]
        if service is not None:
            self.fields["key"].disabled = True
            self.fields["key"].help_text = "A capability's key never changes."


class MeterForm(forms.Form):
    key = forms.CharField(
        max_length=40, required=False, widget=forms.TextInput(attrs={"placeholder": "characters"})
    )
    unit = forms.CharField(
        max_length=40, required=False, widget=forms.TextInput(attrs={"placeholder": "character"})
    )
    unit_price = forms.DecimalField(
        max_digits=12,
        decimal_places=services.PRICE_PLACES,
        min_value=Decimal("0"),
        required=False,
        label="Price per unit",
        widget=forms.NumberInput(attrs={"step": "any", "placeholder": "0.00002"}),
    )
    currency = forms.ChoiceField(
        choices=[(code, code.upper()) for code in services.CURRENCIES], initial="usd"
    )
    description = forms.CharField(max_length=200, required=False)

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(name) not in (None, "") for name in ("key", "unit", "unit_price"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        names = ("key", "unit", "unit_price")
        # A field refused on its own (a bad price) says so itself; only a missing one is this error.
        given = [cleaned.get(name) not in (None, "") or name in self.errors for name in names]
        if any(given) and not all(given):
            raise forms.ValidationError("A meter needs its key, its unit and its price per unit.")
        return cleaned


MeterFormSet = forms.formset_factory(MeterForm, extra=3, max_num=services.MAX_METERS, validate_max=True)


def meter_formset(data: Any = None, service: ExternalCapability | None = None) -> Any:
    """The meters' rows: a registered service's meters first (their key and
    unit fixed), then blank rows for new ones."""
    initial = []
    if service is not None:
        initial = [
            {
                "key": meter.key,
                "unit": meter.unit,
                "unit_price": meter.unit_price.normalize(),
                "currency": meter.currency,
                "description": meter.description,
            }
            for meter in services.spec_of(service).meters
        ]
    formset = MeterFormSet(data, initial=initial, prefix="meters")
    for index, form in enumerate(formset.forms):
        if index < len(initial):
            form.fields["key"].disabled = True
            form.fields["unit"].disabled = True
    return formset


def spec_of_forms(form: ServiceForm, formset: Any) -> services.ServiceSpec:
    """The declaration the two valid forms make."""
    data = dict(form.cleaned_data)
    if form.service is not None:
        data["key"] = form.service.key
    data["meters"] = [
        {**meter.cleaned_data, "unit_price": str(meter.cleaned_data["unit_price"])}
        for meter in formset.forms
        if meter.cleaned_data and not meter.is_blank
    ]
    return services.spec_from(data)


def place_errors(form: ServiceForm, errors: dict[str, list[str]]) -> list[str]:
    """The checks' messages on the fields they concern; the meters' ones are
    returned, for above the meters' table."""
    for name, messages in errors.items():
        if name == "meters":
            continue
        for message in messages:
            form.add_error(name if name in form.fields else None, message)
    return errors.get("meters", [])


class RetireForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        help_text="Organizations that had it on see this in its history.",
        widget=forms.TextInput(attrs={"placeholder": "Replaced by Translation 2"}),
    )


class CredentialForm(forms.Form):
    name = forms.CharField(
        max_length=50,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Production cluster"}),
    )
