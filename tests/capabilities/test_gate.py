"""The gate: `is_enabled` answers from an in-process snapshot, checks a cheap
version stamp once the snapshot is older than STALENESS, and reloads from the
database only when the stamp changed. Time is a fake clock, never the wall."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from capabilities import enabled_keys, gate, is_enabled
from capabilities.actions import set_capability_enabled
from capabilities.models import FeatureToggle


class FakeClock:
    """Stands in for time.monotonic in the gate; moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingCache:
    """The gate's cache, counting reads of version stamps."""

    def __init__(self) -> None:
        self.reads = 0

    def get(self, key, default=None):
        self.reads += 1
        return cache.get(key, default)

    def __getattr__(self, name):
        return getattr(cache, name)


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(gate, "_clock", fake)
    return fake


@pytest.fixture
def stamp_reads(monkeypatch) -> CountingCache:
    counting = CountingCache()
    monkeypatch.setattr(gate, "cache", counting)
    return counting


def another_process_announces(organization) -> None:
    """What `bump_version` does in the process that made a change: a new stamp
    in the shared cache. Our process's snapshot is not dropped by it."""
    cache.set(gate._VERSION_KEY.format(organization.pk), "stamp-written-elsewhere", timeout=None)


def test_the_first_check_reads_the_database_once_then_none_while_warm(
    alice, acme, switch, clock, django_assert_num_queries
):
    switch(alice, acme, "ocr", enabled=True)

    with django_assert_num_queries(1):
        assert is_enabled(acme, "ocr")

    with django_assert_num_queries(0):
        for _ in range(200):
            assert is_enabled(acme, "ocr")
            assert not is_enabled(acme, "summaries")
            assert not is_enabled(acme.pk, "glossary")  # by primary key too
        assert enabled_keys(acme) == {"ocr"}


def test_within_staleness_not_even_the_stamp_is_read(acme, clock, stamp_reads):
    assert not is_enabled(acme, "ocr")
    reads_to_warm = stamp_reads.reads

    clock.advance(gate.STALENESS / 2)
    for _ in range(100):
        is_enabled(acme, "ocr")

    assert stamp_reads.reads == reads_to_warm


def test_an_unchanged_stamp_revalidates_without_the_database(
    alice, acme, switch, clock, stamp_reads, django_assert_num_queries
):
    switch(alice, acme, "glossary", enabled=True)
    assert is_enabled(acme, "glossary")
    reads_before = stamp_reads.reads

    clock.advance(gate.STALENESS + 0.01)
    with django_assert_num_queries(0):
        assert is_enabled(acme, "glossary")

    assert stamp_reads.reads == reads_before + 1


def test_a_change_committed_in_this_process_is_seen_at_once(alice, acme, switch, clock):
    assert not is_enabled(acme, "ocr")  # warm, and ocr is off

    switch(alice, acme, "ocr", enabled=True, reason="Scanning invoices")

    assert is_enabled(acme, "ocr")  # the clock did not move


def test_an_uncommitted_change_is_not_seen(alice, acme, clock, django_capture_on_commit_callbacks):
    assert not is_enabled(acme, "ocr")
    with django_capture_on_commit_callbacks(execute=False) as announcements:
        set_capability_enabled(alice, acme, "ocr", enabled=True)
        assert not is_enabled(acme, "ocr")
    assert len(announcements) == 1


def test_another_process_change_is_seen_once_the_snapshot_is_stale(
    alice, acme, clock, django_capture_on_commit_callbacks
):
    assert not is_enabled(acme, "ocr")  # our snapshot: ocr off

    # Another web process switches ocr on: its rows commit, its announcement
    # writes a new stamp. Our snapshot is untouched.
    with django_capture_on_commit_callbacks(execute=False):
        set_capability_enabled(alice, acme, "ocr", enabled=True)
    another_process_announces(acme)

    clock.advance(gate.STALENESS / 2)
    assert not is_enabled(acme, "ocr")  # still trusting the snapshot: bounded staleness

    clock.advance(gate.STALENESS)
    assert is_enabled(acme, "ocr")


def test_a_lost_stamp_reloads_from_the_database(alice, acme, clock, django_assert_num_queries):
    FeatureToggle.objects.create(organization=acme, capability_key="glossary", enabled=True)
    assert is_enabled(acme, "glossary")

    cache.delete(gate._VERSION_KEY.format(acme.pk))  # e.g. Redis restarted
    clock.advance(gate.STALENESS + 0.01)

    with django_assert_num_queries(1):
        assert is_enabled(acme, "glossary")


def test_snapshots_are_per_organization(alice, gina, acme, globex, switch, clock):
    switch(alice, acme, "ocr", enabled=True)

    assert is_enabled(acme, "ocr")
    assert not is_enabled(globex, "ocr")
    assert enabled_keys(globex) == frozenset()


def test_toggle_rows_of_uninstalled_capabilities_are_ignored(acme, clock):
    # A capability app that was removed from INSTALLED_APPS left its row behind.
    FeatureToggle.objects.create(organization=acme, capability_key="retired", enabled=True)
    FeatureToggle.objects.create(organization=acme, capability_key="glossary", enabled=True)

    assert not is_enabled(acme, "retired")
    assert enabled_keys(acme) == {"glossary"}


def test_the_database_answer_for_billing_ignores_snapshots(
    alice, acme, clock, django_capture_on_commit_callbacks
):
    assert not is_enabled(acme, "ocr")
    with django_capture_on_commit_callbacks(execute=False):
        set_capability_enabled(alice, acme, "ocr", enabled=True)

    assert not is_enabled(acme, "ocr")  # this process has not heard of it yet
    assert gate.enabled_in_database(acme) == {"ocr"}
    assert gate.enabled_in_database(acme.pk) == {"ocr"}
    assert acme.pk in gate.organizations_with_any_on()
