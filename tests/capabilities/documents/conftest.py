"""Fixtures of the Documents tests: uploads land in a temporary media folder,
and Documents is on for acme (and globex)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from capabilities.actions import set_capability_enabled
from capabilities.documents import actions
from capabilities.documents.models import Document
from capabilities.runner import _run


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def documents_on(alice, acme):
    set_capability_enabled(alice, acme, "documents", enabled=True)


@pytest.fixture
def documents_on_globex(gina, globex):
    set_capability_enabled(gina, globex, "documents", enabled=True)


def upload_file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


@pytest.fixture
def extracted(documents_on, alice, acme) -> Callable[..., list[Document]]:
    """`extracted(("a.pdf", bytes), ...)`: upload as alice and run each job in-process."""

    def make(*files: tuple[str, bytes], organization=None, actor=None) -> list[Document]:
        result = actions.upload_documents(
            actor or alice, organization or acme, [upload_file(name, content) for name, content in files]
        )
        for document in result.documents:
            assert document.job is not None
            _run(document.job.pk)
            document.refresh_from_db()
            document.job.refresh_from_db()
        return result.documents

    return make
