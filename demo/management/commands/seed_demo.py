"""`manage.py seed_demo`: the quickstart's demo organizations and people, and
their history (see demo.history). Refuses to run in production: demo accounts
share a published password. Safe to re-run: a second run adds nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo import history
from portal import demo as portal_demo


class Command(BaseCommand):
    help = "Create the demo organizations, people and their history (quickstart only; safe to re-run)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--credential-file",
            type=Path,
            help="where to write the translation service's credential "
            "(default: translation-service.credential in the var folder)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo refuses to run with DJANGO_ENV=production.")
        started = time.monotonic()
        report = history.build(options.get("credential_file"))
        for line in report.lines:
            self.stdout.write(line)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(portal_demo.ORGANIZATIONS)} organizations, {len(portal_demo.PEOPLE)} "
                f"people, password “{portal_demo.DEMO_PASSWORD}” ({time.monotonic() - started:.1f} s)."
            )
        )
