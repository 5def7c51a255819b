"""The demo's made-up usage: deterministic per day, within the working day,
only while the capability is on, and scaled by the organization's size."""

from __future__ import annotations

from datetime import UTC, date, datetime

from capabilities.registry import registry
from demo.usage import UsageProfile, day_of_usage

TUESDAY = date(2026, 11, 10)
ACME = UsageProfile("acme", size=1.0, monthly_growth=0.1, utc_offset=0)
END = datetime(2026, 11, 11, tzinfo=UTC)


def day(profile: UsageProfile = ACME, **overrides):
    options = {"months_in": 1.0, "switched_on": lambda moment: True, "before": END, **overrides}
    return day_of_usage(profile, 7, registry().get("documents"), TUESDAY, **options)


def test_a_day_is_the_same_whenever_it_is_generated():
    first, again = day(), day()
    assert first and first == again
    keys = [record.idempotency_key for record in first]
    assert len(set(keys)) == len(keys)
    assert all(key.startswith("demo:acme:documents:") for key in keys)
    assert {record.meter for record in first} == {"pages", "searches"}
    assert all(8 <= record.occurred_at.hour < 18 for record in first)


def test_only_while_switched_on_and_before_the_bound():
    noon = datetime(2026, 11, 10, 12, tzinfo=UTC)
    morning = day(before=noon)
    assert morning and all(record.occurred_at < noon for record in morning)
    whole_day = day()
    assert len(morning) < len(whole_day)
    assert all(record in whole_day for record in morning)  # the same events, fewer of them
    afternoon = day(switched_on=lambda moment: moment >= noon)
    assert afternoon and all(record.occurred_at >= noon for record in afternoon)


def test_a_smaller_organization_uses_less_and_weekends_are_quiet():
    globex = UsageProfile("globex", size=0.3, monthly_growth=0.1, utc_offset=1)
    assert len(day(globex)) < len(day())
    sunday = day_of_usage(
        ACME,
        7,
        registry().get("documents"),
        date(2026, 11, 15),
        months_in=1.0,
        switched_on=lambda moment: True,
        before=END,
    )
    assert len(sunday) < len(day()) / 4
