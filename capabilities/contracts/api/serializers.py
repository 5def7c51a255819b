"""Serializers of the contract tracker's API."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from capabilities.contracts.corrections import CORRECTABLE
from capabilities.contracts.models import Contract


class FieldCitationSerializer(serializers.Serializer):
    page = serializers.IntegerField(help_text="Page number, from 1")
    start = serializers.IntegerField(help_text="Offset of the quote in the page's text")
    end = serializers.IntegerField(help_text="End offset (exclusive): quote == text[start:end]")
    quote = serializers.CharField()


class ContractSerializer(serializers.ModelSerializer):
    document_id = serializers.IntegerField(read_only=True)
    document_name = serializers.CharField(source="document.name", read_only=True)
    parties = serializers.ListField(child=serializers.CharField(), allow_null=True, read_only=True)
    termination_clauses = serializers.ListField(
        child=serializers.CharField(), allow_null=True, read_only=True
    )
    citations = serializers.SerializerMethodField(
        help_text="Per field, the spans of the document's pages it was read from"
    )
    computed = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Fields computed from others"
    )
    corrected = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Fields a person corrected"
    )
    url = serializers.SerializerMethodField(help_text="The contract's page in the portal")

    class Meta:
        model = Contract
        fields = [
            "id",
            "document_id",
            "document_name",
            "is_contract",
            "parties",
            "effective_date",
            "term_months",
            "expiry_date",
            "current_term_end",
            "auto_renews",
            "renewal_term_months",
            "notice_period_days",
            "notice_deadline",
            "next_notice_deadline",
            "termination_clauses",
            "governing_law",
            "citations",
            "computed",
            "corrected",
            "analysed_at",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=FieldCitationSerializer(many=True)))
    def get_citations(self, contract: Contract) -> dict:
        return contract.citations

    def get_url(self, contract: Contract) -> str:
        return reverse("contracts:contract", args=[contract.pk])


class CorrectionRequestSerializer(serializers.Serializer):
    field = serializers.ChoiceField(choices=list(CORRECTABLE), help_text="The field to correct")
    value = serializers.JSONField(
        allow_null=True,
        help_text="The correct value: a date (2025-03-01), a whole number, true/false, a list of texts, "
        "or a text; null marks it unknown",
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
