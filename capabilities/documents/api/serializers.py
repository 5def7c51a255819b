"""Serializers of the Documents API."""

from __future__ import annotations

from rest_framework import serializers

from capabilities.documents.models import Document, Page
from portal.api.serializers import FilePartsField


class PageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Page
        fields = ["number", "method", "text"]


class DocumentSerializer(serializers.ModelSerializer):
    # Plain strings, not enums: the jobs API has a `kind` too, and two enums of
    # one name make the schema's component names ambiguous.
    declared_kind = serializers.CharField(help_text="pdf, docx, txt, png or jpeg, from the file name")
    kind = serializers.CharField(help_text="pdf, docx, txt, png or jpeg, from the content; empty until read")
    status = serializers.CharField(
        help_text="The extraction job's status: queued, running, succeeded, failed…"
    )
    error = serializers.SerializerMethodField(help_text="Why extraction failed, when it did")
    job_id = serializers.IntegerField(allow_null=True)
    progress_done = serializers.SerializerMethodField()
    progress_total = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id",
            "name",
            "declared_kind",
            "kind",
            "size",
            "uploaded_at",
            "status",
            "error",
            "job_id",
            "progress_done",
            "progress_total",
            "page_count",
            "fields",
            "notes",
        ]

    def get_error(self, document: Document) -> str:
        return document.job.error if document.job else ""

    def get_progress_done(self, document: Document) -> int:
        return document.job.progress_done if document.job else 0

    def get_progress_total(self, document: Document) -> int:
        return document.job.progress_total if document.job else 0


class DocumentDetailSerializer(DocumentSerializer):
    pages = PageSerializer(many=True, read_only=True)

    class Meta(DocumentSerializer.Meta):
        fields = [*DocumentSerializer.Meta.fields, "pages"]


class DocumentUploadRequestSerializer(serializers.Serializer):
    files = FilePartsField(
        child=serializers.FileField(), help_text="One or more files (PDF, DOCX, TXT, PNG, JPEG)"
    )


class RejectionSerializer(serializers.Serializer):
    name = serializers.CharField()
    message = serializers.CharField()


class UploadResultSerializer(serializers.Serializer):
    documents = DocumentSerializer(many=True)
    rejected = RejectionSerializer(many=True)


class UploadRefusedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    documents = DocumentSerializer(many=True, required=False, help_text="`files_rejected`: empty")
    rejected = RejectionSerializer(
        many=True, required=False, help_text="`files_rejected`: each file's reason"
    )


class HitSerializer(serializers.Serializer):
    document_id = serializers.IntegerField()
    document_name = serializers.CharField()
    page_number = serializers.IntegerField()
    rank = serializers.FloatField(help_text="Higher is better; comparable within one search only")
    snippet = serializers.CharField(help_text="HTML: the text is escaped, hits are wrapped in <mark>")
    url = serializers.CharField(help_text="The page of the hit in the portal")


class SearchResultSerializer(serializers.Serializer):
    query = serializers.CharField()
    results = HitSerializer(many=True)
