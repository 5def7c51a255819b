"""Seed the quickstart's demo organizations and people. Refuses to run in
production: demo accounts share a published password."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.actions import record_audit
from portal.models import Membership, Organization, Role, User

DEMO_PASSWORD = "switchboard-demo"  # noqa: S105 (published quickstart password)

ORGANIZATIONS = [("Acme Corp", "acme"), ("Globex", "globex")]
PEOPLE: list[dict[str, Any]] = [
    {"email": "alice@acme.test", "full_name": "Alice Archer", "org": "acme", "role": Role.OWNER},
    {"email": "bob@acme.test", "full_name": "Bob Baker", "org": "acme", "role": Role.MEMBER},
    {"email": "carol@acme.test", "full_name": "Carol Chen", "org": "acme", "role": Role.BILLING},
    {"email": "gina@globex.test", "full_name": "Gina Gomez", "org": "globex", "role": Role.OWNER},
    {"email": "ivan@switchboard.test", "full_name": "Ivan Ito", "is_staff": True},
    {"email": "fiona@switchboard.test", "full_name": "Fiona Fox", "is_finance": True},
]


class Command(BaseCommand):
    help = "Create the demo organizations and users (quickstart only; safe to re-run)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo refuses to run with DJANGO_ENV=production.")
        with transaction.atomic():
            organizations = {}
            for name, slug in ORGANIZATIONS:
                organization, created = Organization.objects.get_or_create(slug=slug, defaults={"name": name})
                organizations[slug] = organization
                if created:
                    record_audit(
                        None,
                        "organization.created",
                        organization=organization,
                        target=organization,
                        actor_email="seed_demo",
                        details={"name": name, "slug": slug},
                    )
            for person in PEOPLE:
                user = User.objects.filter(email=person["email"]).first()
                if user is None:
                    user = User.objects.create_user(
                        person["email"],
                        DEMO_PASSWORD,
                        full_name=person["full_name"],
                        is_staff=person.get("is_staff", False),
                        is_finance=person.get("is_finance", False),
                    )
                if "org" in person:
                    membership, created = Membership.objects.get_or_create(
                        user=user,
                        organization=organizations[person["org"]],
                        defaults={"role": person["role"]},
                    )
                    if created:
                        record_audit(
                            None,
                            "membership.created",
                            organization=membership.organization,
                            target=membership,
                            actor_email="seed_demo",
                            details={"email": user.email, "role": membership.role},
                        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(ORGANIZATIONS)} organizations, {len(PEOPLE)} people, "
                f"password “{DEMO_PASSWORD}”."
            )
        )
