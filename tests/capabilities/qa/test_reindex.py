"""Changing the passage settings: each passage records the settings it was cut
with, the Q&A page tells how many documents were indexed with older ones, and
`manage.py qa_reindex` (or the page's button) queues the indexing job that cuts
them again, per organization, with progress, without billing them twice."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from capabilities.actions import set_capability_enabled
from capabilities.models import Job
from capabilities.qa import queries
from capabilities.qa.models import Passage
from metering.models import UsageEvent
from tests.capabilities.qa.conftest import WAREHOUSE_MEMO, run_queued

pytestmark = pytest.mark.django_db


def _billed_pages(organization) -> int:
    return sum(
        UsageEvent.objects.filter(
            organization=organization, capability="qa", meter="pages_indexed"
        ).values_list("quantity", flat=True)
    )


def _reindex(*args: str) -> str:
    out = StringIO()
    call_command("qa_reindex", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def documents_on_globex(gina, globex) -> None:
    set_capability_enabled(gina, globex, "documents", enabled=True)


def test_passages_record_the_settings_they_were_cut_with(library, capability_settings):
    assert set(Passage.objects.values_list("cut_chars", "cut_overlap")) == {(600, 150)}
    assert not queries.stale_documents(library[0].organization_id).exists()
    capability_settings("qa", PASSAGE_CHARS=200, PASSAGE_OVERLAP=50)
    assert set(queries.stale_documents(library[0].organization_id)) == set(library)


def test_the_command_reindexes_stale_documents_with_progress_and_bills_nothing_new(
    library, capability_settings, acme
):
    billed = _billed_pages(acme)
    before = Passage.objects.count()
    assert "Nothing to re-index" in _reindex()
    capability_settings("qa", PASSAGE_CHARS=200, PASSAGE_OVERLAP=50)

    out = _reindex()
    job = Job.objects.get(capability="qa", kind="index_all")
    assert f"acme: 2 documents (2 indexed with older settings) to index: job {job.pk}" in out
    assert reverse("job", args=[job.pk]) in out
    assert job.input == {}
    assert _reindex().count("job ") == 1  # a second run finds the job under way
    run_queued(acme, "qa")
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.result == {"documents": 2, "pages": 0, "reindexed": 2}
    assert (job.progress_done, job.progress_total) == (2, 2)
    assert set(Passage.objects.values_list("cut_chars", "cut_overlap")) == {(200, 50)}
    assert Passage.objects.count() > before  # shorter passages: more of them
    assert not queries.stale_documents(acme.pk).exists()
    assert _billed_pages(acme) == billed
    assert "Nothing to re-index" in _reindex()


def test_all_reindexes_every_document_and_only_organizations_with_qa_on(
    library, acme, globex, uploaded, gina, documents_on_globex
):
    uploaded(("memo.txt", WAREHOUSE_MEMO), organization=globex, actor=gina)  # Q&A off there
    first = set(Passage.objects.values_list("pk", flat=True))
    out = _reindex("--all")
    assert "acme: 2 documents to index" in out and "globex" not in out
    job = Job.objects.get(capability="qa", kind="index_all")
    assert job.input == {"every": True}
    run_queued(acme, "qa")
    job.refresh_from_db()
    assert job.result == {"documents": 2, "pages": 0, "reindexed": 2}
    assert not first & set(Passage.objects.values_list("pk", flat=True))  # cut again


def test_an_unknown_organization_is_a_clear_error(library):
    with pytest.raises(CommandError, match="No active organization has the slug 'nope'"):
        _reindex("--organization", "nope")
    with pytest.raises(CommandError):
        _reindex("--all", "--stale-only")


def test_the_page_tells_how_many_documents_use_older_settings(
    library, client_for, alice, capability_settings
):
    client = client_for(alice)
    assert 'id="index-stale"' not in client.get(reverse("qa:index")).content.decode()
    capability_settings("qa", PASSAGE_CHARS=200)
    body = client.get(reverse("qa:index")).content.decode()
    assert "2 documents were indexed with older passage settings" in body
    assert "Index 2 documents again" in body
    client.post(reverse("qa:index_documents"))
    job = Job.objects.get(capability="qa", kind="index_all")
    assert job.requested_by == alice
    assert "Indexing" in client.get(reverse("qa:index")).content.decode()
