"""Read models of Documents for the pages and the API, always scoped to one
organization."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from capabilities.documents.models import Document, Page
from portal.models import Organization


def documents(organization: Organization) -> QuerySet[Document]:
    return Document.objects.filter(organization=organization).select_related("job", "uploaded_by")


def pages(document: Document) -> QuerySet[Page]:
    return document.pages.order_by("number").defer("search_vector")


def counts_by_status(organization: Organization) -> dict[str, int]:
    rows = documents(organization).values("job__status").annotate(count=Count("pk"))
    return {row["job__status"] or "queued": row["count"] for row in rows}
