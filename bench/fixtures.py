"""Rows the benchmarks share: one organization with an owner."""

from __future__ import annotations

from portal.models import Membership, Organization, Role, User


def bench_organization() -> tuple[Organization, User]:
    organization, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Bench Org"})
    owner, _ = User.objects.get_or_create(email="owner@bench.test", defaults={"full_name": "Bench Owner"})
    Membership.objects.get_or_create(user=owner, organization=organization, defaults={"role": Role.OWNER})
    return organization, owner
