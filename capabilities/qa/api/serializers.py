"""Serializers of the Document Q&A API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class TextField(serializers.CharField):
    """A JSON string, and only a string: DRF's CharField would take 12 or true
    as "12" and "True"."""

    default_error_messages = {"invalid": "Send the question as a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class AskRequestSerializer(serializers.Serializer):
    question = TextField(
        allow_blank=True, trim_whitespace=False, help_text="The question, up to QA_MAX_QUESTION_CHARS (500)"
    )
    documents = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=True,
        help_text="Ids of the organization's documents to ask; all of them when left out or empty",
    )


class CitationSerializer(serializers.Serializer):
    document_id = serializers.IntegerField()
    document_name = serializers.CharField()
    page_number = serializers.IntegerField()
    start = serializers.IntegerField(help_text="Offset of the quote's first character in the page's text")
    end = serializers.IntegerField(help_text="Offset after its last character: quote == text[start:end]")
    quote = serializers.CharField(help_text="The exact words of the page")
    score = serializers.FloatField(help_text="How well the sentence answers, 0 to 1")
    url = serializers.CharField(help_text="The page in the portal, with the quote highlighted")


class AnswerSerializer(serializers.Serializer):
    question = serializers.CharField()
    mode = serializers.ChoiceField(choices=["extractive", "generative"])
    answer = serializers.CharField(
        allow_null=True,
        help_text="The answer, citations numbered [1]…; null when no answer was found in the documents "
        "(not billed)",
    )
    citations = CitationSerializer(many=True)
    closest = CitationSerializer(
        many=True,
        help_text="Only when `answer` is null: for each passage that came closest (in order), its sentence "
        "that came closest to answering, with its citation. Not an answer: shown so a person can judge. "
        "Empty when there is an answer",
    )
    note = serializers.CharField(
        allow_blank=True,
        help_text="Why there is no answer (e.g. the closest passages never mention a name the question "
        "gives), or why a generated answer was set aside; empty otherwise",
    )


class AskRefusedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(help_text="question_empty, question_too_long, invalid")
