"""State changes of Documents: uploading files (each one stored and its
extraction job queued), storing what an extraction found, and counting a
search."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone

from capabilities.actions import start_job
from capabilities.capability_settings import capability_setting
from capabilities.documents import search
from capabilities.documents.extraction import EXTENSIONS, PageText, kind_from_name, sniff
from capabilities.documents.models import Document, Page
from capabilities.models import Job
from metering import ledger
from portal.actions.errors import ActionError
from portal.audit import Origin, record_audit
from portal.db import fetch_prepared, relaxed_durability
from portal.models import Organization, User

CAPABILITY = "documents"
STORE_FAILED = "It could not be stored; upload it again."

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rejection:
    name: str
    message: str


@dataclass
class UploadResult:
    documents: list[Document] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def _rejection(upload: UploadedFile) -> str | None:
    """Why `upload` is refused before it is stored, or None. Only size and
    type are judged here; whether the content really is what it claims is the
    extraction job's to find out (and to fail on, clearly)."""
    limit_mb = capability_setting("documents", "MAX_UPLOAD_MB")
    if upload.size == 0:
        return "The file is empty."
    if upload.size is not None and upload.size > limit_mb * 1024 * 1024:
        return f"It is {upload.size / (1024 * 1024):.1f} MB; the limit is {limit_mb} MB."
    upload.seek(0)
    head = upload.read(1024)
    upload.seek(0)
    if kind_from_name(upload.name or "") is None and sniff(head) is None:
        accepted = ", ".join(sorted(EXTENSIONS))
        return f"This type of file is not supported. Upload one of: {accepted}."
    return None


def upload_documents(
    actor: User | None,
    organization: Organization,
    uploads: list[UploadedFile],
    *,
    origin: Origin | None = None,
    refused: Sequence[tuple[str, str]] = (),
) -> UploadResult:
    """Store each acceptable file for `organization` and queue its extraction.
    A refused file does not stop the others; each accepted file commits on its
    own, so a later failure loses none of the earlier ones, and a file that
    cannot be stored (storage or database error) is listed as rejected while
    the others go on. `refused` are files already turned away while the request
    streamed (over the size limit): they are listed first. Only a refusal of the
    whole request (no files, too many) raises, before anything is stored."""
    if not uploads and not refused:
        raise ActionError("Choose at least one file to upload.", "no_files")
    max_files = capability_setting("documents", "MAX_FILES")
    if len(uploads) > max_files:
        raise ActionError(
            f"Upload at most {max_files} files at a time; you chose {len(uploads)}.",
            "too_many_files",
        )
    result = UploadResult(rejected=[Rejection(name[-255:], message) for name, message in refused])
    for upload in uploads:
        name = (upload.name or "upload")[-255:]
        problem = _rejection(upload)
        if problem:
            result.rejected.append(Rejection(name, problem))
            continue
        try:
            document = _store_upload(actor, organization, upload, name, origin)
        except ActionError as refusal:  # e.g. Documents switched off mid-batch
            result.rejected.append(Rejection(name, refusal.message))
            continue
        except Exception:
            # Storage or database trouble with this file: its transaction rolled
            # back; say so for this file and go on with the others.
            logger.exception("Could not store upload %r of organization %s", name, organization.pk)
            result.rejected.append(Rejection(name, STORE_FAILED))
            continue
        result.documents.append(document)
    return result


def _store_upload(
    actor: User | None, organization: Organization, upload: UploadedFile, name: str, origin: Origin | None
) -> Document:
    """Store one file, its document and its extraction job, in one transaction.
    If anything fails, the stored file is removed with the rows."""
    head = upload.read(1024)
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    document = Document(
        organization=organization,
        content_sha256=digest.hexdigest(),
        name=name,
        declared_kind=kind_from_name(name) or sniff(head) or "",
        size=upload.size or 0,
        uploaded_by=actor if actor is not None and actor.pk else None,
    )
    try:
        with transaction.atomic(durable=True):
            document.file.save(name, upload, save=False)  # through the storage API
            document.save()
            # The job's message leaves when this transaction commits.
            document.job = start_job(
                actor, organization, CAPABILITY, kind="extract", job_input={"document_id": document.pk}
            )
            document.save(update_fields=["job"])
            record_audit(
                actor,
                "documents.uploaded",
                organization=organization,
                target=document,
                origin=origin,
                details={"name": name, "size": document.size, "job": document.job.pk},
            )
    except BaseException:
        if document.file.name:  # the rows are gone with the transaction; so goes the file
            try:
                document.file.delete(save=False)
            except Exception:
                logger.exception("Could not remove stored file %s after a failed upload", document.file.name)
        raise
    return document


def store_extraction(
    document: Document,
    kind: str,
    pages: list[PageText],
    fields: dict,
    notes: list[str],
    *,
    content_sha256: str,
    job: Job,
) -> int | None:
    """Replace the document's pages with `pages`, searchable, with its fields,
    extracted by `job` from the content whose SHA-256 is `content_sha256`.
    Replacing makes a second run of the same job (a redelivery) harmless.

    Returns None, or the id of another job that stored an extraction of this
    same content while this one was reading it (two extractions of a document
    started together, both past the job's "already paid" check): then nothing
    is stored, and this job must not bill the pages that job bills. The
    document's row lock orders the two.

    The commit doesn't wait for the WAL flush: the job's result, committed
    durably right after, flushes the WAL up to it, these rows included; a
    crash before that loses them with the job's outcome, and the job runs
    again (its lease expires) and stores them again."""
    rows = [(page.number, page.text, page.method) for page in pages]
    if rows and _stored_as_first(document.pk, job.pk, kind, rows, fields, notes, content_sha256):
        return None
    with transaction.atomic():
        locked = (
            Document.objects.select_for_update().annotate(relaxed=relaxed_durability()).get(pk=document.pk)
        )
        if locked.extracted_by_id not in (None, job.pk) and locked.extracted_sha256 == content_sha256:
            return locked.extracted_by_id
        if locked.extracted_sha256 or locked.page_count:
            # Read before (pages are stored only here, with these two set):
            # the first extraction of a document has none to delete, and
            # deleting looks for their passages first.
            Page.objects.filter(document=locked).delete()
        search.insert_pages(locked, rows)
        locked.kind = kind
        locked.page_count = len(pages)
        locked.fields = fields
        locked.notes = notes
        locked.content_sha256 = locked.content_sha256 or content_sha256
        locked.extracted_sha256 = content_sha256
        locked.extracted_by = job
        locked.save(
            update_fields=[
                "kind",
                "page_count",
                "fields",
                "notes",
                "content_sha256",
                "extracted_sha256",
                "extracted_by",
            ]
        )
    return None


# A document's first extraction, in one statement: the document's row (its
# lock) is updated only if nothing was ever extracted from it, so no pages to
# replace and no other job's extraction to defer to; the pages are inserted
# only if it was. Committing without waiting for the WAL flush, as below.
STORE_FIRST = f"""
    WITH stored AS (
        UPDATE {Document._meta.db_table}
        SET kind = %s, page_count = %s, fields = %s, notes = %s,
            content_sha256 = CASE content_sha256 WHEN '' THEN %s ELSE content_sha256 END,
            extracted_sha256 = %s, extracted_by_id = %s
        WHERE id = %s AND extracted_sha256 = '' AND page_count = 0 AND extracted_by_id IS NULL
        RETURNING id, organization_id, set_config('synchronous_commit', 'off', true)
    ), pages AS ({search.pages_insert("stored.id", "stored.organization_id", source="stored, ")})
    SELECT count(*) FROM stored
"""  # noqa: S608  # the models' tables


def _stored_as_first(
    document_id: int,
    job_id: int,
    kind: str,
    rows: list[tuple[int, str, str]],
    fields: dict,
    notes: list[str],
    content_sha256: str,
) -> bool:
    """`store_extraction` for a document nothing was extracted from yet: one
    round trip where locking the row, inserting the pages, updating the row
    and committing took five. False, with nothing written, for any other
    document (the general path then decides)."""
    meta = Document._meta
    [(stored,)] = fetch_prepared(
        STORE_FIRST,
        [
            kind,
            len(rows),
            meta.get_field("fields").get_db_prep_save(fields, connection),
            meta.get_field("notes").get_db_prep_save(notes, connection),
            content_sha256,
            content_sha256,
            job_id,
            document_id,
            *search.pages_params(rows),
        ],
    )
    return bool(stored)


def record_search(organization: Organization, actor: User | None, query: str) -> str:
    """Count one search of `organization` on the `searches` meter. Every call is
    one search: its idempotency key is new each time. Returns the key."""
    key = f"documents:search:{uuid.uuid4()}"
    with transaction.atomic(durable=True):
        ledger.append(
            [
                ledger.UsageRecord(
                    organization_id=organization.pk,
                    capability=CAPABILITY,
                    meter="searches",
                    quantity=1,
                    occurred_at=timezone.now(),
                    idempotency_key=key,
                    created_by_id=actor.pk if actor is not None and actor.pk else None,
                )
            ]
        )
    return key
