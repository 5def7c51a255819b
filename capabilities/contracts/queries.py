"""Read models of the contract tracker for the pages, the API and the daily
deadline check, always scoped to one organization."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import F, QuerySet

from capabilities.contracts.models import Contract, ContractCorrection
from capabilities.documents import queries as documents_queries
from capabilities.documents.models import Document, Page
from capabilities.models import Job
from portal.models import Organization


def contracts(organization: Organization) -> QuerySet[Contract]:
    """The organization's documents that read as contracts, the next notice
    deadline first (unknown or passed for good last)."""
    return (
        Contract.objects.filter(organization=organization, is_contract=True)
        .select_related("document")
        .order_by(F("next_notice_deadline").asc(nulls_last=True), "document__name", "pk")
    )


def analyses(organization: Organization) -> QuerySet[Contract]:
    """Every analysed document of the organization, contract or not (a person
    may correct the finder's "not a contract")."""
    return Contract.objects.filter(organization=organization).select_related("document")


def corrections(contract: Contract) -> QuerySet[ContractCorrection]:
    return contract.corrections.select_related("corrected_by")


def page_texts(document: Document) -> QuerySet[Page]:
    return documents_queries.pages(document).only("number", "text")


def documents_to_analyse(organization_id: int) -> QuerySet[Document]:
    """Extracted documents with no analysis of their current text."""
    return (
        Document.objects.filter(organization_id=organization_id, extracted_by__status=Job.Status.SUCCEEDED)
        .exclude(contract__source_sha256=F("extracted_sha256"))
        .order_by("pk")
    )


def deadlines_within(today: date, days: int) -> QuerySet[Contract]:
    """Contracts of every organization whose notice deadline is between today
    and `days` days from today (the daily check)."""
    return (
        Contract.objects.filter(
            is_contract=True,
            next_notice_deadline__gte=today,
            next_notice_deadline__lte=today + timedelta(days=days),
        )
        .filter(organization__status=Organization.Status.ACTIVE)
        .select_related("document", "organization")
        .order_by("pk")
    )
