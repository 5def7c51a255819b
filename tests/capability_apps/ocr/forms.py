"""The input of the test OCR capability's `recognize` job, which a person
starts by hand from the capability's page."""

from django import forms

from capabilities.forms import JobInputForm


class RecognizeInput(JobInputForm):
    pages = forms.IntegerField(
        min_value=1,
        max_value=1000,
        required=False,
        initial=1,
        help_text="How many pages to read (1 if left empty).",
    )
    # Test hooks: hold the job until a file exists, or fail it.
    hold_until_exists = forms.CharField(required=False, widget=forms.HiddenInput)
    fail = forms.BooleanField(required=False, widget=forms.HiddenInput)
