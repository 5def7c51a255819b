"""Uploads with an `Idempotency-Key`: posted twice, one document, one job and
one charge, the second answer replayed byte for byte; the key reused for
another body is a 422; another organization's same key is its own; a key in
progress is a 409, one whose process died tells the outcome is unknown; a key
older than 24 hours is new. And uploads answer per file when storing one fails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import encode_multipart
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from capabilities.documents.models import Document
from capabilities.models import Job
from capabilities.runner import _run
from metering.models import UsageEvent
from portal.actions.api_keys import create_api_key
from portal.models import IdempotencyKey
from tests.capabilities.documents import samples

LIST = "documents-api:document-list"


def key_client(user, organization) -> APIClient:
    _, secret = create_api_key(user, organization, name="scanner", scope="manage")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


@pytest.fixture
def acme_api(alice, acme, documents_on) -> APIClient:
    return key_client(alice, acme)


@pytest.fixture
def globex_api(gina, globex, documents_on_globex) -> APIClient:
    return key_client(gina, globex)


# Made once: a PDF carries its creation time, and a retry sends the same bytes.
INVOICE = samples.pdf("Invoice INV-9", "Total $12.00")


def invoice() -> SimpleUploadedFile:
    return SimpleUploadedFile("invoice.pdf", INVOICE)


def post_upload(client: APIClient, key: str, *files: SimpleUploadedFile, boundary: str = "BoUnDaRy1"):
    """A multipart upload with a boundary of our choosing: retries of one upload
    need not share one."""
    return client.post(
        reverse(LIST),
        encode_multipart(boundary, {"files": list(files)}),
        content_type=f"multipart/form-data; boundary={boundary}",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def pages_billed(organization) -> int:
    return sum(
        UsageEvent.objects.filter(organization=organization, meter="pages").values_list("quantity", flat=True)
    )


def test_the_same_upload_twice_stores_bills_and_answers_once(acme_api, acme):
    first = post_upload(acme_api, "upload-1", invoice(), boundary="first")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    [document] = Document.objects.filter(organization=acme)
    assert document.job is not None
    _run(document.job.pk)
    assert pages_billed(acme) == 2

    again = post_upload(acme_api, "upload-1", invoice(), boundary="second")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert Document.objects.filter(organization=acme).count() == 1
    assert Job.objects.filter(organization=acme).count() == 1
    assert pages_billed(acme) == 2


def test_the_key_with_another_body_is_a_422_and_does_nothing(acme_api, acme):
    assert post_upload(acme_api, "upload-2", invoice()).status_code == 201
    other = post_upload(acme_api, "upload-2", SimpleUploadedFile("invoice.pdf", samples.pdf("Other")))
    assert other.status_code == 422
    body = other.json()
    assert body["code"] == "idempotency_key_reused"
    assert "Use a new key" in body["detail"]
    assert Document.objects.filter(organization=acme).count() == 1


def test_the_key_on_another_path_is_a_422(acme_api, acme):
    assert post_upload(acme_api, "shared-key", invoice()).status_code == 201
    job = acme_api.post(
        "/api/v1/jobs/",
        {"capability": "documents", "kind": "extract", "input": {"document_id": 1}},
        format="json",
        HTTP_IDEMPOTENCY_KEY="shared-key",
    )
    assert job.status_code == 422
    assert job.json()["code"] == "idempotency_key_reused"
    assert not Job.objects.filter(kind="extract", input={"document_id": 1}).exists()


def test_the_same_key_of_another_organization_is_another_request(acme_api, globex_api, acme, globex):
    acme_answer = post_upload(acme_api, "upload-3", invoice())
    globex_answer = post_upload(globex_api, "upload-3", invoice())
    assert acme_answer.status_code == globex_answer.status_code == 201
    assert "Idempotent-Replayed" not in globex_answer
    [acme_document] = Document.objects.filter(organization=acme)
    [globex_document] = Document.objects.filter(organization=globex)
    assert globex_answer.json()["documents"][0]["id"] == globex_document.pk != acme_document.pk
    # Each replays its own answer, never the other's.
    assert post_upload(globex_api, "upload-3", invoice()).content == globex_answer.content
    assert post_upload(acme_api, "upload-3", invoice()).content == acme_answer.content


def test_a_key_in_progress_is_a_409_and_after_a_crash_the_outcome_is_unknown(acme_api, acme, settings):
    assert post_upload(acme_api, "upload-4", invoice()).status_code == 201
    # As if the process had died after the upload and before keeping its answer.
    row = IdempotencyKey.objects.get(organization=acme, key="upload-4")
    IdempotencyKey.objects.filter(pk=row.pk).update(status=IdempotencyKey.Status.IN_PROGRESS)

    busy = post_upload(acme_api, "upload-4", invoice())
    assert busy.status_code == 409
    assert busy.json()["code"] == "idempotency_key_in_use"

    IdempotencyKey.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_STALE_AFTER + 60)
    )
    unknown = post_upload(acme_api, "upload-4", invoice())
    assert unknown.status_code == 409
    assert unknown.json()["code"] == "idempotency_outcome_unknown"
    assert "Check the list before retrying with a new key" in unknown.json()["detail"]
    assert Document.objects.filter(organization=acme).count() == 1  # never run twice


def test_a_key_older_than_a_day_is_new(acme_api, acme):
    assert post_upload(acme_api, "upload-5", invoice()).status_code == 201
    IdempotencyKey.objects.filter(organization=acme, key="upload-5").update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    again = post_upload(acme_api, "upload-5", invoice())
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert Document.objects.filter(organization=acme).count() == 2
    assert IdempotencyKey.objects.filter(organization=acme, key="upload-5").count() == 1


def test_refusals_before_anything_ran_keep_no_answer(acme_api, acme):
    refused = post_upload(acme_api, "upload-6")  # no file at all
    assert refused.status_code == 400
    assert not IdempotencyKey.objects.filter(key="upload-6").exists()
    # The same key, corrected, runs.
    assert post_upload(acme_api, "upload-6", invoice()).status_code == 201
    assert Document.objects.filter(organization=acme).count() == 1


def test_a_key_over_255_characters_is_a_400(acme_api, acme):
    response = post_upload(acme_api, "k" * 256, invoice())
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"
    assert "at most 255" in response.json()["detail"]
    assert not Document.objects.exists()
    assert post_upload(acme_api, "k" * 255, invoice()).status_code == 201


def test_one_file_that_cannot_be_stored_is_rejected_and_the_others_are_stored(acme_api, acme, monkeypatch):
    real_save = default_storage.save

    def save(name, content, max_length=None):
        if name.endswith("two.txt"):
            raise OSError("disk full")  # fault injection: the storage fails for this one file
        return real_save(name, content, max_length=max_length)

    monkeypatch.setattr(default_storage, "save", save)
    response = acme_api.post(
        reverse(LIST),
        {
            "files": [
                SimpleUploadedFile("one.txt", b"first file"),
                SimpleUploadedFile("two.txt", b"second file"),
                SimpleUploadedFile("three.txt", b"third file"),
            ]
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert [row["name"] for row in body["documents"]] == ["one.txt", "three.txt"]
    assert body["rejected"] == [{"name": "two.txt", "message": "It could not be stored; upload it again."}]
    assert sorted(Document.objects.filter(organization=acme).values_list("name", flat=True)) == [
        "one.txt",
        "three.txt",
    ]
    assert Job.objects.filter(organization=acme).count() == 2


def test_a_database_error_on_one_file_rejects_that_file_and_removes_its_stored_copy(
    acme_api, acme, monkeypatch, media_root
):
    real_save = Document.save

    def save(self, *args, **kwargs):
        if self.name == "two.txt" and self.pk is None:
            raise RuntimeError("connection lost")  # fault injection: the row cannot be written
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Document, "save", save)
    response = acme_api.post(
        reverse(LIST),
        {"files": [SimpleUploadedFile(name, name.encode()) for name in ("one.txt", "two.txt", "three.txt")]},
        format="multipart",
    )
    assert response.status_code == 201
    assert [row["name"] for row in response.json()["rejected"]] == ["two.txt"]
    stored = sorted(path.name for path in media_root.rglob("*.txt"))
    assert stored == ["one.txt", "three.txt"]


def test_an_empty_file_is_rejected_by_name_and_the_others_stored(acme_api, acme):
    response = acme_api.post(
        reverse(LIST),
        {"files": [SimpleUploadedFile("a.txt", b"alpha"), SimpleUploadedFile("empty.txt", b"")]},
        format="multipart",
    )
    assert response.status_code == 201
    assert response.json()["rejected"] == [{"name": "empty.txt", "message": "The file is empty."}]
    assert list(Document.objects.filter(organization=acme).values_list("name", flat=True)) == ["a.txt"]
