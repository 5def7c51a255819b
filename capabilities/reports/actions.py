"""State changes of sales reports: upload a set of spreadsheets, confirm how
their columns map, start a build. Each runs in one transaction with its audit
entry; the build's job is queued after commit."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from capabilities.actions import start_job
from capabilities.reports.models import (
    FIELD_LABELS,
    REQUIRED_FIELDS,
    DateOrder,
    Report,
    SourceFile,
    UploadSet,
)
from capabilities.reports.sources import Inspection, SourceError, inspect, limits
from portal.actions.errors import ActionError
from portal.audit import Origin, record_audit
from portal.models import Organization, User

logger = logging.getLogger(__name__)


class UploadRefused(ActionError):
    """Files that cannot be used, one message per problem; nothing was stored."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems), "upload_refused")
        self.problems = problems


def create_upload_set(
    actor: User | None,
    organization: Organization,
    *,
    name: str,
    files: Sequence[UploadedFile],
    origin: Origin | None = None,
) -> UploadSet:
    """Store the files of one report with what was read from them. Every file
    is read first; if any cannot be used, none is stored and every problem is
    said at once."""
    cap = limits()
    if not files:
        raise UploadRefused(["Choose at least one CSV or XLSX file."])
    if len(files) > cap.max_files:
        raise UploadRefused([f"{len(files)} files is more than the {cap.max_files} files one report takes."])
    problems: list[str] = []
    inspections: list[Inspection] = []
    for upload in files:
        file_name = upload.name or "file"
        try:
            inspections.append(inspect(upload, file_name, upload.size or 0))
        except SourceError as problem:
            problems.append(str(problem))
        finally:
            upload.seek(0)
    if problems:
        raise UploadRefused(problems)
    stored: list[SourceFile] = []
    try:
        with transaction.atomic(durable=True):
            upload_set = UploadSet.objects.create(
                organization=organization,
                name=(name.strip() or _default_name(files))[:120],
                created_by=actor if actor is not None and actor.pk else None,
            )
            for position, (upload, found) in enumerate(zip(files, inspections, strict=True)):
                source = SourceFile(
                    organization=organization,
                    upload_set=upload_set,
                    original_name=(upload.name or "file")[:255],
                    kind=found.kind,
                    size=upload.size or 0,
                    encoding=found.encoding,
                    headers=found.headers,
                    preview=found.preview,
                    row_count=found.row_count,
                    position=position,
                )
                source.file.save(upload.name or "file", upload, save=False)
                stored.append(source)
                source.save()
            record_audit(
                actor,
                "reports.upload_set_created",
                organization=organization,
                target=upload_set,
                origin=origin,
                details={"files": [source.original_name for source in stored]},
            )
    except BaseException as failure:
        for source in stored:  # the rows are gone with the transaction; so go the files
            source.file.delete(save=False)
        if not isinstance(failure, Exception):
            raise
        # A storage or database error: the set is one unit, so nothing of it is
        # kept, and the client is told so instead of getting a bare error.
        logger.exception("Could not store the upload set of organization %s", organization.pk)
        raise UploadRefused(["The files could not be stored; upload them again."]) from failure
    return upload_set


def _default_name(files: Sequence[UploadedFile]) -> str:
    names = [upload.name or "file" for upload in files]
    return names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"


def set_mapping(
    actor: User | None,
    upload_set: UploadSet,
    *,
    mapping: dict[str, str],
    date_order: str = DateOrder.DAY_FIRST,
    currency: str = "USD",
    origin: Origin | None = None,
) -> UploadSet:
    """Confirm which column holds each field. Every field needs a column of the
    set's files, and no column serves two fields."""
    headers = headers_of(upload_set)
    problems = []
    for field in REQUIRED_FIELDS:
        column = mapping.get(field, "")
        if not column:
            problems.append(f"Choose the column for {FIELD_LABELS[field]}.")
        elif column not in headers:
            problems.append(f"{FIELD_LABELS[field]}: no file of this set has a column {column!r}.")
    chosen = [mapping[field] for field in REQUIRED_FIELDS if mapping.get(field)]
    if len(set(chosen)) != len(chosen):
        problems.append("Each column can hold one field only.")
    if date_order not in DateOrder.values:
        problems.append("Choose how slash dates are written.")
    currency = currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        problems.append("The currency is a three-letter code such as USD.")
    if problems:
        raise ActionError(" ".join(problems), "invalid_mapping")
    with transaction.atomic(durable=True):
        UploadSet.objects.select_for_update().filter(pk=upload_set.pk).first()  # one change at a time
        upload_set.mapping = {field: mapping[field] for field in REQUIRED_FIELDS}
        upload_set.date_order = date_order
        upload_set.currency = currency
        upload_set.mapping_confirmed_at = timezone.now()
        upload_set.save()
        record_audit(
            actor,
            "reports.mapping_confirmed",
            organization=upload_set.organization,
            target=upload_set,
            origin=origin,
            details={"mapping": upload_set.mapping, "date_order": date_order, "currency": currency},
        )
    return upload_set


def headers_of(upload_set: UploadSet) -> list[str]:
    """Every column name of the set's files, first file's order first."""
    found: list[str] = []
    for source in upload_set.files.all():
        found.extend(header for header in source.headers if header not in found)
    return found


def start_report(actor: User | None, upload_set: UploadSet, *, origin: Origin | None = None) -> Report:
    """Queue a build of the set with its confirmed mapping."""
    if not upload_set.mapping_confirmed:
        raise ActionError("Confirm the column mapping before building the report.", "mapping_unconfirmed")
    with transaction.atomic(durable=True):
        report = Report.objects.create(
            organization=upload_set.organization,
            upload_set=upload_set,
            created_by=actor if actor is not None and actor.pk else None,
            mapping=upload_set.mapping,
            date_order=upload_set.date_order,
            currency=upload_set.currency,
        )
        report.job = start_job(
            actor, upload_set.organization, "reports", kind="build", job_input={"report_id": report.pk}
        )
        report.save(update_fields=["job"])
        record_audit(
            actor,
            "reports.build_started",
            organization=upload_set.organization,
            target=report,
            origin=origin,
            details={"upload_set": upload_set.pk, "job": report.job.pk},
        )
    return report
