"""The tenancy side of the quickstart's demo: its organizations and people, and
the audit entry that says the demo's history was built. Quickstart only: the
demo accounts share a published password (`seed_demo` refuses production)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from portal.audit import record_audit
from portal.models import AuditEntry, Membership, Organization, Role, User

DEMO_PASSWORD = "switchboard-demo"  # noqa: S105 (published quickstart password)
ACTOR = "seed_demo"  # the audit log's actor for what the demo itself sets up
HISTORY_BUILT = "demo.history_built"

ORGANIZATIONS = [("Acme Corp", "acme"), ("Globex", "globex")]
PEOPLE: list[dict[str, Any]] = [
    {"email": "alice@acme.test", "full_name": "Alice Archer", "org": "acme", "role": Role.OWNER},
    {"email": "bob@acme.test", "full_name": "Bob Baker", "org": "acme", "role": Role.MEMBER},
    {"email": "carol@acme.test", "full_name": "Carol Chen", "org": "acme", "role": Role.BILLING},
    {"email": "gina@globex.test", "full_name": "Gina Gomez", "org": "globex", "role": Role.OWNER},
    {"email": "ivan@switchboard.test", "full_name": "Ivan Ito", "is_staff": True},
    {"email": "fiona@switchboard.test", "full_name": "Fiona Fox", "is_finance": True},
]


@dataclass(frozen=True)
class Cast:
    """The demo's organizations by slug and people by first name (alice, gina, …)."""

    organizations: dict[str, Organization]
    people: dict[str, User]


def ensure_people() -> Cast:
    """Create the demo organizations and people that are missing; safe to repeat."""
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
                    actor_email=ACTOR,
                    details={"name": name, "slug": slug},
                )
        people = {}
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
            people[person["email"].split("@")[0]] = user
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
                        actor_email=ACTOR,
                        details={"email": user.email, "role": membership.role},
                    )
    return Cast(organizations, people)


def history_built() -> dict[str, Any] | None:
    """What the demo's history recorded when it was built, or None if it never was."""
    entry = AuditEntry.objects.filter(action=HISTORY_BUILT).order_by("at").first()
    return entry.details if entry else None


def record_history_built(details: dict[str, Any]) -> None:
    """Say in the audit log that the demo's history is in place (a later
    `seed_demo` then leaves it alone)."""
    with transaction.atomic():
        record_audit(None, HISTORY_BUILT, actor_email=ACTOR, details=details)
