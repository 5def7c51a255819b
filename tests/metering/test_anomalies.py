"""Usage anomalies on generated usage: a steady weekly rhythm raises nothing
over 90 days, a planted spike is found against the right baseline, catching up
is idempotent and each anomaly is alerted once."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from metering import anomalies
from metering.models import AnomalyScanDay, UsageAnomaly, UsageDailyRollup
from portal import alerts
from portal.models import Alert, AuditEntry
from tests.metering.usage_data import record

pytestmark = pytest.mark.django_db


def _today() -> date:
    return timezone.now().astimezone(UTC).date()


def _weekly(day: date, rng: random.Random) -> int:
    """A business's rhythm: about 400 a weekday, about 30 a weekend day, with noise."""
    if day.weekday() < 5:
        return 400 + rng.randint(-60, 60)
    return 30 + rng.randint(-10, 10)


def _plant(organization, figures: dict[date, int], capability: str = "ocr", meter: str = "pages") -> None:
    UsageDailyRollup.objects.bulk_create(
        UsageDailyRollup(
            organization=organization, capability=capability, meter=meter, day=day, quantity=q, events=1
        )
        for day, q in figures.items()
        if q
    )


def _days(count: int, *, ending: date) -> list[date]:
    return [ending - timedelta(days=n) for n in range(count - 1, -1, -1)]


def test_a_steady_weekly_rhythm_raises_nothing_over_90_days(acme, globex):
    rng = random.Random(17)
    days = _days(90, ending=_today() - timedelta(days=1))
    _plant(acme, {day: _weekly(day, rng) for day in days})
    # A quieter organization: a few days a week, a handful each.
    _plant(globex, {day: rng.choice([0, 0, 5, 12, 25]) for day in days}, meter="pages")
    # A quiet week (a holiday) then the rhythm again: coming back is no spike.
    holiday = days[60:67]
    UsageDailyRollup.objects.filter(organization=acme, day__in=holiday).update(quantity=2)

    assert anomalies.detect(days) == []
    assert AnomalyScanDay.objects.count() == 90
    assert not Alert.objects.exists()


def test_a_planted_spike_is_found_with_its_baseline(acme, alice, carol):
    rng = random.Random(3)
    yesterday = _today() - timedelta(days=1)
    days = _days(60, ending=yesterday)
    figures = {day: _weekly(day, rng) for day in days}
    spike_day = days[45] if days[45].weekday() < 5 else days[47]
    figures[spike_day] = 4210
    _plant(acme, figures)

    found = anomalies.detect(days)

    assert [(a.day, a.quantity) for a in found] == [(spike_day, 4210)]
    anomaly = found[0]
    window = [figures[spike_day - timedelta(days=n)] for n in range(1, 29)]
    window.sort()
    assert anomaly.baseline_median == Decimal(window[13] + window[14]) / 2
    deviations = sorted(abs(v - anomaly.baseline_median) for v in window)
    assert anomaly.baseline_mad == (deviations[13] + deviations[14]) / 2
    assert anomaly.robust_z == pytest.approx(
        0.6745 * (4210 - float(anomaly.baseline_median)) / float(anomaly.baseline_mad)
    )
    assert anomaly.ratio == pytest.approx(4210 / float(anomaly.baseline_median))
    alert = Alert.objects.get()
    assert alert.key == f"anomaly:ocr:pages:{spike_day.isoformat()}"
    assert alert.kind == Alert.Kind.ANOMALY
    assert "4,210, about" in alert.message and "\N{MULTIPLICATION SIGN} the usual" in alert.message
    assert alert.data["quantity"] == 4210


def test_days_without_usage_count_as_zero(acme):
    """A series used every other day: its median sits between 0 and the usual
    figure, so a day of 3x the usual figure is not 3x the median... but 10x is."""
    yesterday = _today() - timedelta(days=1)
    days = _days(40, ending=yesterday)
    figures = {day: (100 if n % 2 else 0) for n, day in enumerate(days)}
    figures[yesterday] = 1000
    _plant(acme, figures)

    [anomaly] = anomalies.detect([yesterday])

    assert anomaly.baseline_median == Decimal(50)  # 14 zeros and 14 hundreds
    assert anomaly.baseline_mad == Decimal(50)


def test_a_series_used_now_and_then_alarms_only_on_a_real_spike(acme):
    """Used on about one day in four: its median is 0, so the ratio is taken
    against its usual day with usage; ordinary days of use raise nothing."""
    rng = random.Random(5)
    yesterday = _today() - timedelta(days=1)
    days = _days(90, ending=yesterday - timedelta(days=1))
    _plant(acme, {day: rng.randint(150, 250) if rng.random() < 0.25 else 0 for day in days})
    assert anomalies.detect(days) == []

    _plant(acme, {yesterday: 2000})
    [anomaly] = anomalies.detect([yesterday])
    assert anomaly.baseline_median == 0
    assert 150 <= anomaly.usual_day <= 250
    assert "the usual" in anomalies.describe(anomaly) and "on a day with usage" in anomalies.describe(anomaly)


def test_small_figures_and_new_series_are_never_alarms(acme, globex):
    yesterday = _today() - timedelta(days=1)
    # 0 -> 2: under the floor.
    _plant(acme, {yesterday - timedelta(days=40): 1, yesterday: 2})
    # A new customer: first usage 5 days ago, growing fast.
    _plant(globex, {yesterday - timedelta(days=n): 1000 * (5 - n) + 10 for n in range(5)})

    assert anomalies.detect([yesterday]) == []


def test_catch_up_is_idempotent_and_alerts_once(acme, alice, carol):
    """Beat stopped for three days: the next run scans every missed day; a
    second run, or two at once, record and alert nothing twice."""
    today = _today()
    days = _days(50, ending=today - timedelta(days=1))
    _plant(acme, dict.fromkeys(days[:-3], 100))
    _plant(acme, {days[-2]: 900})
    AnomalyScanDay.objects.bulk_create(
        AnomalyScanDay(day=day, scanned_at=timezone.now())
        for day in days[:-3]
        if day >= today - timedelta(35)
    )

    assert anomalies.days_to_scan(today) == days[-3:]
    assert anomalies.catch_up(today) == 1
    assert anomalies.catch_up(today) == 0
    assert anomalies.detect(days) == []  # a full re-scan finds the same anomaly, already recorded

    assert UsageAnomaly.objects.count() == 1
    assert Alert.objects.filter(kind=Alert.Kind.ANOMALY).count() == 1
    assert AuditEntry.objects.filter(action="alert.raised").count() == 1
    assert anomalies.days_to_scan(today) == []


def test_today_is_not_judged_before_it_is_over(acme):
    today = _today()
    _plant(acme, dict.fromkeys(_days(40, ending=today - timedelta(days=1)), 100))
    record(acme, 5000, at=timezone.now())

    assert anomalies.detect([today]) == []
    assert not AnomalyScanDay.objects.filter(day=today).exists()


def test_the_alert_reads_for_people_and_is_emailed_once(acme, alice, bob, carol):
    yesterday = _today() - timedelta(days=1)
    _plant(acme, dict.fromkeys(_days(40, ending=yesterday - timedelta(days=1)), 460))
    record(acme, 4210, at=datetime.combine(yesterday, time(9), UTC))

    anomalies.detect([yesterday])
    anomalies.detect([yesterday])
    alert = Alert.objects.get()
    alerts.deliver(alert.pk)
    alerts.deliver(alert.pk)

    day = f"{yesterday.day} {yesterday:%b}"
    assert (
        alert.message
        == f"Text recognition pages on {day}: 4,210, about 9\N{MULTIPLICATION SIGN} the usual 460 a day."
    )
    assert alert.url == "/usage/#anomalies"
    assert len(mail.outbox) == 1
    assert set(mail.outbox[0].to) == {"alice@acme.test", "carol@acme.test"}  # owner and billing, not bob
