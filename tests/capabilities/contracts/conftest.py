"""Fixtures of the contract tracker's tests: the evaluation contracts of
bench/contracts_eval, acme (and globex) with Documents and the tracker on,
and uploads whose extraction and analysis run in this process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from capabilities.actions import set_capability_enabled
from capabilities.contracts.models import Contract
from capabilities.documents import actions as documents_actions
from capabilities.models import Job
from capabilities.runner import _run, run_job
from portal.models import Organization, User

EVAL = Path(__file__).resolve().parents[3] / "bench" / "contracts_eval"
GOLD: dict[str, dict] = json.loads((EVAL / "gold.json").read_text())


def sample(name: str) -> str:
    return (EVAL / name).read_text()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def switch_on(actor: User, organization: Organization) -> None:
    set_capability_enabled(actor, organization, "documents", enabled=True)
    set_capability_enabled(actor, organization, "contracts", enabled=True)


@pytest.fixture
def contracts_on(alice, acme) -> Organization:
    switch_on(alice, acme)
    return acme


@pytest.fixture
def contracts_on_globex(gina, globex) -> Organization:
    switch_on(gina, globex)
    return globex


@pytest.fixture
def run_queued(monkeypatch, django_capture_on_commit_callbacks) -> Callable[[], list[str]]:
    """Run every queued job in this process as a worker would, oldest first,
    with what each defers to after its commit (the `job_finished` signal that
    starts the analysis), until none is left; returns the outcomes."""
    monkeypatch.setattr(run_job, "apply_async", lambda *args, **kwargs: None)

    def run() -> list[str]:
        outcomes = []
        while True:
            job = Job.objects.filter(status=Job.Status.QUEUED).order_by("pk").first()
            if job is None:
                return outcomes
            with django_capture_on_commit_callbacks(execute=True):
                outcomes.append(f"{job.capability}.{job.kind}:{_run(job.pk)}")

    return run


@pytest.fixture
def upload(alice, acme, run_queued) -> Callable[..., list[Contract]]:
    """`upload(("a.txt", bytes), …)`: upload as alice (or `actor` of
    `organization`), run extraction and analysis; the documents' contracts."""

    def make(*files: tuple[str, bytes], organization=None, actor=None) -> list[Contract]:
        result = documents_actions.upload_documents(
            actor or alice,
            organization or acme,
            [SimpleUploadedFile(name, content) for name, content in files],
        )
        run_queued()
        return [Contract.objects.get(document=document) for document in result.documents]

    return make


def eval_file(name: str) -> tuple[str, bytes]:
    return name, (EVAL / name).read_bytes()
