"""Read models of the sales reports pages and API, always for one organization."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from capabilities.reports.actions import headers_of
from capabilities.reports.models import REQUIRED_FIELDS, Report, UploadSet
from capabilities.reports.sales import suggest_mapping
from portal.models import Organization


def upload_sets(organization: Organization) -> QuerySet[UploadSet]:
    return UploadSet.objects.filter(organization=organization).annotate(
        file_count=Count("files", distinct=True), report_count=Count("reports", distinct=True)
    )


def reports(organization: Organization) -> QuerySet[Report]:
    return Report.objects.filter(organization=organization).select_related("job", "upload_set")


def proposed_mapping(upload_set: UploadSet) -> dict[str, str]:
    """The confirmed mapping, or a suggestion from the header names; fields no
    header plainly names are left empty for the person to choose."""
    if upload_set.mapping_confirmed:
        return dict(upload_set.mapping)
    suggested = suggest_mapping(headers_of(upload_set))
    return {field: suggested.get(field, "") for field in REQUIRED_FIELDS}
