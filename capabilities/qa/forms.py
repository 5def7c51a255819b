"""Forms of Document Q&A: the question box and the inputs of the indexing jobs."""

from __future__ import annotations

from typing import Any

from django import forms

from capabilities.capability_settings import capability_setting
from capabilities.documents.forms import DocumentInput
from capabilities.documents.models import Document
from capabilities.forms import JobInputForm
from portal.models import Organization


class AskForm(forms.Form):
    question = forms.CharField(
        label="Your question",
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "e.g. What is the notice period to end the services agreement?"}
        ),
        strip=True,
        error_messages={"required": "Type a question to ask your documents."},
    )
    documents = forms.ModelMultipleChoiceField(
        queryset=Document.objects.none(),
        required=False,
        label="Only in these documents",
        help_text="Leave empty to ask all your documents.",
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = capability_setting("qa", "MAX_QUESTION_CHARS")
        question = self.fields["question"]
        question.widget.attrs["maxlength"] = str(limit)
        question.help_text = f"Up to {limit} characters."
        self.fields["documents"].queryset = Document.objects.filter(  # type: ignore[attr-defined]
            organization=organization, page_count__gt=0
        ).order_by("name")


class IndexDocumentInput(DocumentInput):
    """The input of an indexing job: one of the organization's documents."""


class IndexAllInput(JobInputForm):
    """The input of the job that indexes the organization's documents: those
    not indexed yet or indexed with older passage settings, or all of them."""

    every = forms.BooleanField(
        required=False,
        label="Index every document again",
        help_text="Also the documents already indexed with the current passage settings.",
    )
