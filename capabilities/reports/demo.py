"""Sales reports' part of the quickstart demo: twelve monthly sales files of a
made-up year (`demo_files/`, six CSV and six XLSX, with a row the report leaves
out and a return), uploaded as one set, mapped as suggested and built through
the capability's own actions and job."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from capabilities.reports import actions, queries
from capabilities.reports.models import DateOrder, UploadSet
from portal.models import Organization, User

SAMPLES = Path(__file__).resolve().parent / "demo_files"
NAME = "Sales 2025, month by month"


def create(organization: Organization, actor: User) -> list[str]:
    """The upload set and its report, unless `organization` has the set already."""
    if UploadSet.objects.filter(organization=organization, name=NAME).exists():
        return []
    files = [
        SimpleUploadedFile(sample.name, sample.read_bytes())
        for sample in sorted(SAMPLES.iterdir())
        if sample.suffix in (".csv", ".xlsx")
    ]
    upload_set = actions.create_upload_set(actor, organization, name=NAME, files=files)
    actions.set_mapping(
        actor,
        upload_set,
        mapping=queries.proposed_mapping(upload_set),
        date_order=DateOrder.DAY_FIRST,
        currency="USD",
    )
    report = actions.start_report(actor, upload_set)
    report.refresh_from_db()
    status = report.job.get_status_display().lower() if report.job else "queued"
    return [f"“{NAME}”: {len(files)} files uploaded by {actor.email}, report build {status}"]
