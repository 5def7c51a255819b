"""Forms of the sales reports pages: uploading a set of spreadsheets and
confirming which column holds which field."""

from __future__ import annotations

from typing import Any

from django import forms

from capabilities.forms import JobInputForm
from capabilities.reports.models import FIELD_LABELS, REQUIRED_FIELDS, DateOrder, Report
from capabilities.reports.sources import limits


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_empty_file", True)  # the upload check names the empty file
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".csv,.xlsx"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class UploadForm(forms.Form):
    name = forms.CharField(
        max_length=120, required=False, help_text="Optional, e.g. “Sales 2025”. Defaults to the file names."
    )
    spreadsheets = MultipleFileField(
        label="Spreadsheets",
        help_text="Monthly CSV or XLSX files with a header row.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cap = limits()
        self.fields["spreadsheets"].help_text = (
            f"Monthly CSV or XLSX files with a header row: up to {cap.max_files} files, "
            f"{cap.max_file_megabytes} and {cap.max_rows_per_file:,} rows each."
        )


class MappingForm(forms.Form):
    """One select per required field, choices = the set's column names."""

    date_order = forms.ChoiceField(label="Slash dates are written", choices=DateOrder.choices)
    currency = forms.CharField(
        max_length=3, min_length=3, initial="USD", help_text="Three letters, e.g. USD."
    )

    def __init__(self, *args: Any, headers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Choose a column"), *((header, header) for header in headers)]
        selects = {
            field: forms.ChoiceField(label=FIELD_LABELS[field], choices=choices) for field in REQUIRED_FIELDS
        }
        self.fields = {**selects, **self.fields}  # the columns first, then date order and currency

    def mapping(self) -> dict[str, str]:
        return {field: self.cleaned_data[field] for field in REQUIRED_FIELDS}


class BuildInput(JobInputForm):
    """The input of a report build: one of the organization's reports (made,
    with its mapping, when a person builds from an upload set)."""

    report_id = forms.ModelChoiceField(
        queryset=Report.objects.none(),
        error_messages={"invalid_choice": "Your organization has no report with this id."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["report_id"].queryset = Report.objects.filter(organization=self.organization)  # type: ignore[attr-defined]
