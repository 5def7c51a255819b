"""`manage.py seed_demo`: the quickstart's demo organizations and people, and
their history (see demo.history). Refuses to run in production: demo accounts
share a published password. Safe to re-run: a second run adds nothing."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo import history
from portal import demo as portal_demo


class Command(BaseCommand):
    help = "Create the demo organizations, people and their history (quickstart only; safe to re-run)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo refuses to run with DJANGO_ENV=production.")
        started = time.monotonic()
        report = history.build()
        for line in report.lines:
            self.stdout.write(line)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(portal_demo.ORGANIZATIONS)} organizations, {len(portal_demo.PEOPLE)} "
                f"people, password “{portal_demo.DEMO_PASSWORD}” ({time.monotonic() - started:.1f} s)."
            )
        )
