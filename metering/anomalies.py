"""Usage anomalies: each closed UTC day's usage of every (organization,
capability, meter) compared with its rolling baseline, spikes recorded once
and alerted once, and the hold an organization may ask for on a spike.

The rule (docs/metering.md says it for people). For a day D and a series with
usage x on D, the baseline is the series' daily usage over the WINDOW_DAYS
days before D (days without usage count as 0; days before the series' first
usage don't count: the organization wasn't using that meter yet). From it:
median m, MAD (median absolute deviation from m). D is an anomaly when all of:

- x >= MIN_QUANTITY: small figures are never alarms (0 -> 2 pages isn't one);
- x >= RATIO * u, u the usual day: the median m, or when m is 0 (a series
  used on fewer than half the days) the median of the days with usage, so
  that a series used now and then isn't "infinitely" above its usual 0 each
  time it is used. Several times a usual day is what a person reads as a
  spike, whatever the noise;
- x > PEAK_RATIO * the busiest baseline day: a spike is well above anything
  the series did in the window. Without it, a series used on a few random
  days whose usage differs by weekday (a Tuesday at 400, Saturdays at 60)
  alarms whenever its few days happen to be mostly Saturdays: its usual day
  is then the low one (the benchmark's generated data showed it, about 7
  false alarms a day in 1,000 organizations);
- robust z = 0.6745 * (x - m) / MAD > Z_THRESHOLD: the day is far outside the
  series' own spread, so a naturally bursty series doesn't alarm on its usual
  bursts. When MAD is 0 (more than half the baseline days have the same
  figure, typically 0 for a series used on few days) the mean absolute
  deviation stands in: z = 0.7979 * (x - m) / mean |v - m| (Iglewicz and
  Hoaglin's rule; 0.7979 = sqrt(2/pi) makes both scales agree for a normal
  distribution). When that is 0 too (every baseline day the same), z is
  unbounded (stored as None) and the ratio and floor decide;
- the series has at least MIN_HISTORY_DAYS days of history before D: a new
  customer's first weeks are onboarding, not spikes.

The ratio and the z-score, because each alone misfires: the z-score alone flags a
steady series' modest wobbles (a series at 100 +- 2 a day makes 110 a z of
3.4), and the ratio alone flags a bursty series' ordinary bursts. A weekly
rhythm (weekdays high, weekends low) has its median at the weekday level, so
neither the weekdays nor the weekends come near 3x it.

Detection is set-based: one SQL statement over the daily rollups for a batch
of days, with the zero days filled in by generate_series and the median and
MAD computed by percentile_cont; inserts are ON CONFLICT DO NOTHING, so a
second run records nothing twice and alerts nothing twice (only the run that
inserted an anomaly raises its alert, in the same transaction)."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from metering import formatting, meter_prices
from metering.models import AnomalyHold, AnomalyScanDay, UsageAnomaly
from portal.alerts import raise_alert
from portal.audit import record_audit
from portal.models import Alert, Organization

logger = logging.getLogger(__name__)

WINDOW_DAYS = 28  # four whole weeks: every weekday counts four times, so a weekly rhythm is in the baseline
MIN_HISTORY_DAYS = 14  # two weeks of history before a series can spike
MIN_QUANTITY = 20  # units; below this a day is never an anomaly
RATIO = 3  # x must be at least 3 times the usual day
PEAK_RATIO = 1.5  # and above 1.5 times the busiest day of the window
Z_THRESHOLD = 3.5  # Iglewicz and Hoaglin's cut-off for the modified z-score
CATCH_UP_DAYS = 35  # the daily task scans the closed days of the last five weeks not yet scanned

# One statement: candidates (the days' series with at least MIN_QUANTITY),
# their baselines, median, MAD and peak, and the insert of those over every
# threshold. Each candidate reads its window with one range scan of the
# rollups' unique index (organization, capability, meter, day), and so does
# its series' first day; the days without usage are added as zeros to the few
# values in hand, so the per-candidate sorts are of WINDOW_DAYS numbers, never
# one big sort (a join against a generate_series calendar costs about 5x more).
_DETECT = """
WITH candidate AS (
    SELECT r.organization_id, r.capability, r.meter, r.day, r.quantity,
           GREATEST(r.day - %(window)s, first.day) AS since
    FROM metering_usagedailyrollup r
    CROSS JOIN LATERAL (
        SELECT min(f.day) AS day FROM metering_usagedailyrollup f
        WHERE f.organization_id = r.organization_id AND f.capability = r.capability AND f.meter = r.meter
    ) first
    WHERE r.day = ANY(%(days)s) AND r.quantity >= %(floor)s AND first.day <= r.day - %(min_history)s
),
window_values AS (
    SELECT c.*, used.quantities, (c.day - c.since) - cardinality(used.quantities) AS zeros
    FROM candidate c
    CROSS JOIN LATERAL (
        SELECT COALESCE(array_agg(w.quantity), '{}') AS quantities
        FROM metering_usagedailyrollup w
        WHERE w.organization_id = c.organization_id AND w.capability = c.capability AND w.meter = c.meter
          AND w.day >= c.since AND w.day < c.day
    ) used
),
scored AS (
    SELECT v.organization_id, v.capability, v.meter, v.day, v.quantity, b.median, b.peak, s.mad,
           CASE WHEN b.median > 0 THEN b.median ELSE COALESCE(b.active_median, 0) END AS usual,
           CASE
               WHEN s.mad > 0 THEN 0.6745 * (v.quantity - b.median) / s.mad
               WHEN s.mean_deviation > 0 THEN 0.7979 * (v.quantity - b.median) / s.mean_deviation
           END AS z
    FROM window_values v
    CROSS JOIN LATERAL (
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) AS median,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FILTER (WHERE x > 0) AS active_median,
               COALESCE(max(x), 0) AS peak
        FROM (SELECT unnest(v.quantities) UNION ALL SELECT 0 FROM generate_series(1, v.zeros)) AS day_usage(x)
    ) b
    CROSS JOIN LATERAL (
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(x - b.median)) AS mad,
               avg(abs(x - b.median)) AS mean_deviation
        FROM (SELECT unnest(v.quantities) UNION ALL SELECT 0 FROM generate_series(1, v.zeros)) AS day_usage(x)
    ) s
)
INSERT INTO metering_usageanomaly
    (organization_id, capability, meter, day, quantity, baseline_median, baseline_mad, usual_day, robust_z,
     ratio, detected_at)
SELECT organization_id, capability, meter, day, quantity, median::numeric(24, 2), mad::numeric(24, 2),
       usual::numeric(24, 2), z, CASE WHEN usual > 0 THEN quantity / usual END, %(now)s
FROM scored
WHERE quantity >= %(ratio)s * usual AND quantity > %(peak_ratio)s * peak AND (z IS NULL OR z > %(z)s)
ON CONFLICT ON CONSTRAINT one_anomaly_per_meter_day DO NOTHING
RETURNING id
"""


def days_to_scan(today: date | None = None) -> list[date]:
    """The closed days of the last CATCH_UP_DAYS not scanned yet, oldest first."""
    today = today or timezone.now().date()
    recent = [today - timedelta(days=n) for n in range(CATCH_UP_DAYS, 0, -1)]
    scanned = set(AnomalyScanDay.objects.filter(day__in=recent).values_list("day", flat=True))
    return [day for day in recent if day not in scanned]


def detect(days: list[date]) -> list[UsageAnomaly]:
    """Scan the closed `days` (today and later are ignored: a day is judged
    once it is over), record the anomalies not recorded yet, alert each once,
    hold the capabilities whose organization asked for it, and mark the days
    scanned: one transaction. Returns the anomalies this call recorded."""
    today = timezone.now().date()
    days = sorted({day for day in days if day < today})
    if not days:
        return []
    now = timezone.now()
    with transaction.atomic(durable=True):
        ids = record_anomalies(days, now)
        found = list(
            UsageAnomaly.objects.filter(pk__in=ids).select_related("organization").order_by("day", "pk")
        )
        held = _hold(found, now)
        for anomaly in found:
            _alert(anomaly, held=anomaly.pk in held)
        counts = {day: sum(1 for anomaly in found if anomaly.day == day) for day in days}
        AnomalyScanDay.objects.bulk_create(
            [AnomalyScanDay(day=day, scanned_at=now, found=counts[day]) for day in days],
            update_conflicts=True,
            unique_fields=["day"],
            update_fields=["scanned_at"],
        )
    if found:
        logger.info("Recorded %s usage anomalies on %s", len(found), ", ".join(map(str, days)))
    return found


def record_anomalies(days: list[date], now: datetime) -> list[int]:
    """The set-based part of `detect`: insert the anomalies of `days` not
    recorded yet, in one statement; returns their ids. Inside the caller's
    transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            _DETECT,
            {
                "days": days,
                "window": WINDOW_DAYS,
                "min_history": MIN_HISTORY_DAYS,
                "floor": MIN_QUANTITY,
                "ratio": RATIO,
                "peak_ratio": PEAK_RATIO,
                "z": Z_THRESHOLD,
                "now": now,
            },
        )
        return [row[0] for row in cursor.fetchall()]


def catch_up(today: date | None = None) -> int:
    """The daily task: scan every closed day of the last CATCH_UP_DAYS not yet
    scanned (yesterday, and any day a stopped beat missed)."""
    return len(detect(days_to_scan(today)))


# --- words for people ----------------------------------------------------------------


def _usual(median: Decimal) -> str:
    whole = median.to_integral_value() if median == median.to_integral_value() else median.normalize()
    return formatting.quantity(whole)


def describe(anomaly: UsageAnomaly) -> str:
    """ "Documents pages on 3 Dec: 4,210, about 9x the usual 460 a day"."""
    info = meter_prices.describe(anomaly.capability, anomaly.meter)
    what = f"{info.capability_title} {formatting.plural(info.unit)} on {anomaly.day.day} {anomaly.day:%b}"
    figure = formatting.quantity(anomaly.quantity)
    if not anomaly.usual_day:
        return f"{what}: {figure}, when none was used in the {WINDOW_DAYS} days before"
    times = round(anomaly.quantity / anomaly.usual_day)
    usual = _usual(anomaly.usual_day)
    per = "a day" if anomaly.baseline_median else "on a day with usage"
    return f"{what}: {figure}, about {times}\N{MULTIPLICATION SIGN} the usual {usual} {per}"


def _alert(anomaly: UsageAnomaly, *, held: bool) -> None:
    info = meter_prices.describe(anomaly.capability, anomaly.meter)
    message = describe(anomaly) + "."
    if held:
        message += (
            f" As your organization asked, new {info.capability_title} jobs wait until an owner "
            "releases them on the usage page; nothing is lost."
        )
    raise_alert(
        anomaly.organization,
        key=f"anomaly:{anomaly.capability}:{anomaly.meter}:{anomaly.day.isoformat()}",
        kind=Alert.Kind.ANOMALY,
        level=Alert.Level.DANGER if held else Alert.Level.WARNING,
        title=f"Unusual usage of {info.capability_title}",
        message=message,
        url="/usage/#anomalies",
        data={
            "capability": anomaly.capability,
            "meter": anomaly.meter,
            "day": anomaly.day.isoformat(),
            "quantity": anomaly.quantity,
            "baseline_median": str(anomaly.baseline_median),
            "baseline_mad": str(anomaly.baseline_mad),
            "usual_day": str(anomaly.usual_day),
            "held": held,
        },
    )


# --- the hold ---------------------------------------------------------------------------


def _hold(found: list[UsageAnomaly], now: datetime) -> set[int]:
    """Hold the capabilities of `found` whose organization asked for it and
    that are not held already; returns the ids of the anomalies that held one."""
    if not found:
        return set()
    pairs = {(anomaly.organization_id, anomaly.capability): anomaly for anomaly in found}
    candidates = AnomalyHold.objects.select_for_update().filter(
        organization_id__in={org for org, _ in pairs},
        capability__in={capability for _, capability in pairs},
        hold_on_anomaly=True,
        held_since__isnull=True,
    )
    held: set[int] = set()
    for hold in candidates:
        anomaly = pairs.get((hold.organization_id, hold.capability))
        if anomaly is None:
            continue
        hold.held_since = now
        hold.anomaly = anomaly
        hold.save(update_fields=["held_since", "anomaly"])
        record_audit(
            None,
            "capability.held",
            organization=anomaly.organization,
            target=hold,
            details={"capability": hold.capability, "meter": anomaly.meter, "day": anomaly.day.isoformat()},
            actor_email="Switchboard",
        )
        held.add(anomaly.pk)
    return held


def is_held(organization_id: int, capability: str) -> bool:
    """Whether new jobs of `capability` must wait for an owner (a spike held
    it): what start_job asks, one indexed query."""
    return AnomalyHold.objects.filter(
        organization_id=organization_id, capability=capability, held_since__isnull=False
    ).exists()


def held_condition(organization: str, capability: str) -> str:
    """`is_held` as a SQL condition on the placeholders or columns given, for
    start_job's INSERT (the check and the job's row in one statement)."""
    return (
        "EXISTS (SELECT 1 FROM metering_anomalyhold hold WHERE hold.organization_id = "  # noqa: S608
        f"{organization} AND hold.capability = {capability} AND hold.held_since IS NOT NULL)"
    )


def set_hold_on_anomaly(organization: Organization, capability: str, enabled: bool, actor_id: int) -> bool:
    """Store the organization's choice; True when it changed. Inside the
    caller's transaction (metering.actions.set_hold_on_anomaly audits it)."""
    hold, _ = AnomalyHold.objects.select_for_update().get_or_create(
        organization=organization, capability=capability
    )
    if hold.hold_on_anomaly == enabled:
        return False
    hold.hold_on_anomaly = enabled
    hold.updated_by_id = actor_id
    hold.updated_at = timezone.now()
    hold.save(update_fields=["hold_on_anomaly", "updated_by", "updated_at"])
    return True


def clear_hold(organization: Organization, capability: str, actor_id: int) -> bool:
    """Lift the hold of `capability` (an owner released its held jobs); True
    when it was held. Inside the caller's transaction."""
    return bool(
        AnomalyHold.objects.filter(
            organization=organization, capability=capability, held_since__isnull=False
        ).update(held_since=None, updated_by_id=actor_id, updated_at=timezone.now())
    )
