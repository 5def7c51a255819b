"""`manage.py qa_reindex`: after QA_PASSAGE_CHARS or QA_PASSAGE_OVERLAP
changed, queue, per organization with Document Q&A on, the indexing job that
cuts its documents again (the same job, with progress, as switching Q&A on).
By default only the documents indexed with older settings (and any not
indexed yet); `--all` every document. Questions keep being answered from the
old passages until a document's new ones replace them, in one transaction."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from capabilities import is_enabled
from capabilities.qa import actions, queries
from capabilities.qa.passages import current_cut
from portal.models import Organization


class Command(BaseCommand):
    help = "Re-index Document Q&A's documents cut with older passage settings (or, with --all, every one)."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--stale-only",
            dest="every",
            action="store_false",
            help="Only documents indexed with older passage settings, and any not indexed yet (the default).",
        )
        which.add_argument("--all", dest="every", action="store_true", help="Every document with text.")
        parser.set_defaults(every=False)
        parser.add_argument(
            "--organization", metavar="SLUG", help="Only this organization (default: every active one)."
        )

    def handle(self, *args: Any, every: bool, organization: str | None, **options: Any) -> None:
        organizations = Organization.objects.filter(status=Organization.Status.ACTIVE).order_by("slug")
        if organization is not None:
            organizations = organizations.filter(slug=organization)
            if not organizations.exists():
                raise CommandError(f"No active organization has the slug {organization!r}.")
        cut = current_cut()
        self.stdout.write(
            f"Passage settings now: QA_PASSAGE_CHARS={cut.chars}, QA_PASSAGE_OVERLAP={cut.overlap}."
        )
        queued = 0
        for org in organizations:
            if not is_enabled(org, actions.CAPABILITY):
                continue
            stale = queries.stale_documents(org.pk).count()
            documents = queries.documents_to_index(org.pk, every=every).count()
            job = actions.index_existing(org, every=every)
            if job is None:
                continue
            queued += 1
            older = f" ({stale} indexed with older settings)" if stale else ""
            self.stdout.write(
                f"{org.slug}: {documents} document{'s' if documents != 1 else ''}{older} "
                f"to index: job {job.pk}, its progress at {reverse('job', args=[job.pk])}"
            )
        if queued:
            self.stdout.write(
                self.style.SUCCESS(f"Queued for {queued} organization{'s' if queued != 1 else ''}.")
            )
        elif every:
            self.stdout.write(
                "Nothing to index: no organization with Document Q&A on has a document with text."
            )
        else:
            self.stdout.write(
                "Nothing to re-index: every document is indexed with the current passage settings."
            )
