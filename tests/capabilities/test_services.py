"""External capabilities (issue 18): a service registered by an IT admin is a
capability like the apps (catalog, toggle rules, price book, budgets, usage),
its declaration is checked, and retiring it switches it off everywhere while
its history and usage stay."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing import sync
from capabilities import gate, services
from capabilities.actions import DependencyConflict
from capabilities.models import FeatureToggle, ServiceCredential, ToggleChange
from capabilities.registry import ServiceCapability, registry
from capabilities.services import InvalidService, MeterSpec, ServiceSpec
from portal.actions.errors import ActionError
from portal.models import AuditEntry
from tests.factories import UsageEventFactory

pytestmark = pytest.mark.django_db


def test_a_registered_service_is_a_capability(register, alice, acme, switch):
    register("translation", summary="Documents in 30 languages", category="Language")

    found = registry().get("translation")
    assert isinstance(found, ServiceCapability)
    assert found.external and found.title == "Translation" and found.category == "Language"
    assert [meter.key for meter in found.all_meters] == ["characters", "api_calls", "compute_seconds"]
    assert found.is_paid
    assert found.queue == "cap.translation" and found.job_kinds == {} and found.nav is None

    switch(alice, acme, "translation")
    assert gate.is_enabled(acme, "translation")
    assert AuditEntry.objects.filter(action="capability.service_registered").count() == 1


def test_other_processes_see_a_registration_within_the_bound(register, acme, monkeypatch):
    from capabilities import registry as registry_module

    assert "translation" not in registry()
    # Another process's registration: the rows and the stamp change, this process did nothing.
    register("translation")
    registry_module.reset_for_tests()  # as if this process had not registered it
    monkeypatch.setattr(registry_module, "_clock", lambda: 10**9)  # STALENESS has passed
    registry_module.announce_change()
    assert "translation" in registry()


def test_dependencies_follow_the_toggle_rule(register, alice, acme, switch):
    register("redaction", dependencies=["documents"])

    with pytest.raises(DependencyConflict):
        switch(alice, acme, "redaction")
    switch(alice, acme, "redaction", include_related=True)
    assert gate.enabled_keys(acme) >= {"documents", "redaction"}


@pytest.mark.parametrize(
    ("declared", "field", "words"),
    [
        ({"key": "documents"}, "key", "installed in the portal"),
        ({"key": "Bad-Key"}, "key", "lower-case"),
        ({"name": " "}, "name", "name"),
        ({"dependencies": ["nowhere"]}, "dependencies", "no capability 'nowhere'"),
        ({"health_url": "ftp://x.test/health"}, "health_url", "http"),
        ({"meters": [MeterSpec("api_calls", "call", Decimal("0.1"))]}, "meters", "platform records itself"),
        ({"meters": [MeterSpec("pages", "page", Decimal("0.0000001"))]}, "meters", "decimal places"),
        ({"meters": [MeterSpec("pages", "page", Decimal("-1"))]}, "meters", "zero or more"),
        (
            {"meters": [MeterSpec("pages", "page", Decimal("1")), MeterSpec("pages", "page", Decimal("2"))]},
            "meters",
            "twice",
        ),
        ({"meters": [MeterSpec("pages", "", Decimal("1"))]}, "meters", "unit"),
    ],
)
def test_a_bad_declaration_is_refused_with_reasons(ivan, declared, field, words):
    spec = ServiceSpec(
        key=declared.pop("key", "translation"),
        name=declared.pop("name", "Translation"),
        meters=declared.pop("meters", []),
        **declared,
    )
    with pytest.raises(InvalidService) as refused:
        services.register(ivan, spec)
    assert words in " ".join(refused.value.errors[field])
    assert "translation" not in registry()


def test_a_key_is_registered_once_even_after_retirement(register, ivan):
    service = register("translation")
    services.retire(ivan, service, reason="Replaced")
    with pytest.raises(InvalidService, match="registered already"):
        services.register(ivan, ServiceSpec(key="translation", name="Translation 2"))


def test_only_it_admins_register(alice):
    with pytest.raises(ActionError, match="IT admins"):
        services.register(alice, ServiceSpec(key="translation", name="Translation"))


def test_a_change_keeps_the_key_and_the_meters_units(register, ivan):
    service = register("translation")
    spec = services.spec_of(service)
    spec.meters[0].unit = "word"
    with pytest.raises(InvalidService, match="unit can't change"):
        services.change(ivan, service, spec)
    spec = services.spec_of(service)
    spec.meters = []
    with pytest.raises(InvalidService, match="can't be removed"):
        services.change(ivan, service, spec)

    spec = services.spec_of(service)
    spec.name = "Translation Pro"
    spec.meters.append(MeterSpec("glossaries", "glossary", Decimal("1.50")))
    services.change(ivan, service, spec)
    changed = registry().get("translation")
    assert changed.title == "Translation Pro"
    assert [meter.key for meter in changed.meters] == ["characters", "glossaries"]


def test_a_change_that_makes_a_cycle_is_refused(register, ivan):
    first = register("first")
    register("second", dependencies=["first"])
    spec = services.spec_of(first)
    spec.dependencies = ["second"]
    with pytest.raises(InvalidService, match="cycle"):
        services.change(ivan, first, spec)


def test_retiring_switches_it_off_everywhere_and_keeps_its_usage(
    register, ivan, alice, acme, gina, globex, switch
):
    service = register("translation")
    switch(alice, acme, "translation")
    switch(gina, globex, "translation")
    credential, _secret = services.issue_credential(ivan, service, name="prod")
    UsageEventFactory(organization=acme, capability="translation", meter="characters", quantity=7)

    assert services.retire(ivan, service, reason="Replaced by Translation 2") == 2

    assert "translation" not in registry()
    assert registry().title_of("translation") == "Translation"
    assert not FeatureToggle.objects.filter(capability_key="translation", enabled=True).exists()
    change = ToggleChange.objects.get(organization=acme, capability_key="translation", to_enabled=False)
    assert change.source == ToggleChange.Source.IT_ADMIN and "Replaced by Translation 2" in change.reason
    assert ServiceCredential.objects.get(pk=credential.pk).revoked
    # Its usage is still billed: the retired meter stays in Stripe's priced set.
    assert ("translation", "characters") in sync.priced_meters()


def test_a_service_others_need_is_not_retired(register, ivan):
    service = register("translation")
    register("subtitles", dependencies=["translation"])
    with pytest.raises(ActionError, match="Subtitles needs Translation"):
        services.retire(ivan, service, reason="Gone")


def test_a_retired_service_is_no_longer_a_flag(register, ivan, alice, acme, switch):
    service = register("translation")
    switch(alice, acme, "translation")
    services.retire(ivan, service, reason="Gone")
    gate.forget_snapshots()
    assert not gate.is_enabled(acme, "translation")
    assert "translation" not in gate.enabled_keys(acme)


def test_credentials_are_shown_once_and_stored_hashed(register, ivan):
    service = register("translation")
    credential, secret = services.issue_credential(ivan, service, name="prod")
    stored = ServiceCredential.objects.get(pk=credential.pk)
    assert secret.startswith(stored.prefix + ".")
    assert secret not in stored.hashed_key
    assert services.verified_credential(secret) == stored
    assert services.verified_credential("nothing.of-ours") is None


def test_rotating_replaces_the_secret(register, ivan):
    service = register("translation")
    old, old_secret = services.issue_credential(ivan, service, name="prod")
    new, new_secret = services.rotate_credential(ivan, old)
    assert new.name == "prod" and new_secret != old_secret
    with pytest.raises(services.CredentialRefused, match="revoked"):
        services.verified_credential(old_secret)
    assert services.verified_credential(new_secret) == new
    with pytest.raises(ActionError, match="revoked already"):
        services.revoke_credential(ivan, ServiceCredential.objects.get(pk=old.pk))
