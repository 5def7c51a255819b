"""Forms of the contract tracker: the input of an analysis job, the table's
filters' companion (filtersets.py) and the correction form."""

from __future__ import annotations

from django import forms

from capabilities.contracts.corrections import CORRECTABLE
from capabilities.documents.forms import DocumentInput


class AnalyseInput(DocumentInput):
    """The input of an analysis job: one of the organization's documents."""


class CorrectionForm(forms.Form):
    field = forms.ChoiceField(label="Field", choices=[(name, label) for name, label in CORRECTABLE.items()])
    value = forms.CharField(
        label="Correct value",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Dates as 2025-03-01 or 1 March 2025; yes or no; parties and clauses one per line. "
        "Leave empty to mark the value unknown.",
    )
    note = forms.CharField(label="Why (optional)", required=False, max_length=500)
