"""Forms of the Documents pages: a multi-file upload and the search box."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.functional import lazy

from capabilities.capability_settings import capability_setting
from capabilities.documents import queries
from capabilities.documents.extraction import EXTENSIONS
from capabilities.documents.models import Document
from capabilities.forms import JobInputForm
from portal.uploads import UploadLimits


def upload_limits() -> UploadLimits:
    """What one upload may carry: DOCUMENTS_MAX_UPLOAD_MB per file (a larger
    file is skipped while it streams and named as rejected; the others go on),
    DOCUMENTS_MAX_REQUEST_MB in all (refused with 413)."""
    megabyte = 1024 * 1024
    return UploadLimits(
        per_file=capability_setting("documents", "MAX_UPLOAD_MB") * megabyte,
        per_request=capability_setting("documents", "MAX_REQUEST_MB") * megabyte,
        skip_oversized_files=True,  # the batch answers per file
    )


def _files_help() -> str:
    """The upload field's help, with the limits in force when it is shown."""
    per_file = capability_setting("documents", "MAX_UPLOAD_MB")
    files = capability_setting("documents", "MAX_FILES")
    per_request = capability_setting("documents", "MAX_REQUEST_MB")
    return (
        f"PDF, Word (DOCX), text, PNG or JPEG; up to {per_file} MB each, "
        f"{files} at a time, {per_request} MB in all."
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Django's documented way to take several files from one input. Empty files
    pass: the upload action refuses each one by name and stores the others,
    where FileField would refuse the whole batch for one of them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ",".join(sorted(EXTENSIONS))}))
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class UploadForm(forms.Form):
    # Named like the API's field. The form metaclass moves declared fields into
    # base_fields, so this never shadows Form.files at run time.
    files = MultipleFileField(  # type: ignore[assignment]
        label="Files",
        help_text=lazy(_files_help, str)(),
        error_messages={"required": "Choose at least one file to upload."},
    )


class SearchForm(forms.Form):
    q = forms.CharField(label="Search", max_length=200, required=False)


class DocumentInput(JobInputForm):
    """A job's input naming one of the organization's documents (`document_id`);
    the job kinds of the apps built on Documents take it too."""

    document_id = forms.ModelChoiceField(
        queryset=Document.objects.none(),
        error_messages={"invalid_choice": "Your organization has no document with this id."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["document_id"].queryset = Document.objects.filter(organization=self.organization)  # type: ignore[attr-defined]


class ExtractInput(DocumentInput):
    """The input of an extraction job: one of the organization's documents."""

    def clean_document_id(self) -> Document:
        """An unchanged document already extracted is refused: its pages were
        billed once and would be billed again for the same text."""
        document: Document = self.cleaned_data["document_id"]
        running = queries.extraction_in_progress(document)
        if running is not None:
            raise forms.ValidationError(
                f"“{document.name}” is being extracted already (job {running.pk}); wait for it to finish.",
                code="extraction_in_progress",
            )
        try:
            current = queries.content_hash(document)
        except FileNotFoundError:
            return document  # the job fails with the reason
        paid = queries.paid_extraction(document, current)
        if paid is not None:
            raise forms.ValidationError(
                f"“{document.name}” is unchanged since job {paid.pk} extracted it; its pages and fields "
                "are on its page, and extracting it again would bill the same pages twice. "
                "Upload a changed file to extract it again.",
                code="already_extracted",
            )
        return document
