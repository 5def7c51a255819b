"""The usage ledger: every unit counted exactly once, rollups that always equal
the events they sum, and no edits, whoever asks.

One module for the ledger's guarantees; its length is the number of ways a
unit could be counted twice or lost.
"""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncHour
from django.test.utils import CaptureQueriesContext

from metering import ledger
from metering.models import EventKind, UsageEvent, UsageRollup

T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def usage(organization, key: str, quantity: int = 1, *, at: datetime = T0, **fields) -> ledger.UsageRecord:
    fields.setdefault("capability", "ocr")
    fields.setdefault("meter", "pages")
    return ledger.UsageRecord(
        organization_id=organization.pk, quantity=quantity, occurred_at=at, idempotency_key=key, **fields
    )


def append(records: list[ledger.UsageRecord]) -> int:
    with transaction.atomic():
        return len(ledger.append(records))


def rollups() -> dict[tuple, tuple[int, int]]:
    return {
        (row.organization_id, row.capability, row.meter, row.hour): (row.quantity, row.events)
        for row in UsageRollup.objects.all()
    }


def events_by_hour() -> dict[tuple, tuple[int, int]]:
    """The same answer as the rollups, by GROUP BY over the raw ledger."""
    rows = (
        UsageEvent.objects.annotate(hour=TruncHour("occurred_at", tzinfo=UTC))
        .values("organization_id", "capability", "meter", "hour")
        .annotate(total=Sum("quantity"), count=Count("id"))
    )
    return {
        (row["organization_id"], row["capability"], row["meter"], row["hour"]): (row["total"], row["count"])
        for row in rows
    }


# --- transactions ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_append_refuses_to_run_outside_a_transaction(acme):
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        ledger.append([usage(acme, "k1")])
    assert not UsageEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_ingest_commits_in_its_own_transaction(acme):
    assert ledger.ingest([usage(acme, "k1", 3), usage(acme, "k2", 4)]) == 2
    assert rollups() == {(acme.pk, "ocr", "pages", T0.replace(minute=0)): (7, 2)}


def test_append_rolls_back_with_the_caller(acme):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        ledger.append([usage(acme, "k1", 5)])
        1 / 0  # noqa: B018
    assert not UsageEvent.objects.exists()
    assert not UsageRollup.objects.exists()


# --- idempotency -------------------------------------------------------------


def test_a_key_repeated_in_one_append_counts_once(acme):
    inserted = append([usage(acme, "dup", 5), usage(acme, "other", 1), usage(acme, "dup", 5)])

    assert inserted == 2
    assert UsageEvent.objects.count() == 2
    assert rollups() == {(acme.pk, "ocr", "pages", T0.replace(minute=0)): (6, 2)}


def test_the_first_of_repeated_keys_in_one_append_is_the_one_recorded(acme):
    with transaction.atomic():
        new = ledger.append([usage(acme, "dup", 5), usage(acme, "dup", 9)])

    assert [record.quantity for record in new] == [5]
    assert UsageEvent.objects.get(idempotency_key="dup").quantity == 5
    assert rollups() == events_by_hour()


def test_a_key_repeated_across_appends_counts_once(acme):
    assert append([usage(acme, "a", 2), usage(acme, "b", 3)]) == 2
    assert append([usage(acme, "b", 3), usage(acme, "c", 4)]) == 1
    assert append([usage(acme, "a", 2), usage(acme, "b", 3), usage(acme, "c", 4)]) == 0

    assert UsageEvent.objects.count() == 3
    assert rollups() == {(acme.pk, "ocr", "pages", T0.replace(minute=0)): (9, 3)}


def test_a_key_repeated_across_chunks_of_one_append_counts_once(acme, monkeypatch):
    monkeypatch.setattr(ledger, "CHUNK", 2)
    records = [usage(acme, f"k{i % 3}", 1) for i in range(7)]

    assert append(records) == 3
    assert rollups() == {(acme.pk, "ocr", "pages", T0.replace(minute=0)): (3, 3)}


def test_append_if_records_nothing_when_its_guard_returns_no_row(acme):
    assert ledger.append_if("SELECT 1 WHERE %s", [False], [usage(acme, "k1", 5)]) is None
    assert not UsageEvent.objects.exists()
    assert not UsageRollup.objects.exists()


def test_append_if_counts_a_key_once_and_the_first_of_repeated_keys(acme):
    assert ledger.append_if("SELECT 1 WHERE %s", [True], [usage(acme, "a", 2), usage(acme, "a", 9)]) == 1
    assert ledger.append_if("SELECT 1", [], [usage(acme, "a", 2), usage(acme, "b", 3)]) == 1

    assert UsageEvent.objects.get(idempotency_key="a").quantity == 2
    assert rollups() == {(acme.pk, "ocr", "pages", T0.replace(minute=0)): (5, 2)}


@pytest.mark.django_db(transaction=True)
def test_append_if_outside_a_transaction_commits_guard_and_usage_together(acme):
    """One statement: the guard's write and the usage commit together, or,
    when the statement fails, neither does."""
    acme_id = acme.pk
    guard = "UPDATE portal_organization SET name = %s WHERE id = %s RETURNING id"
    assert ledger.append_if(guard, ["Renamed", acme_id], [usage(acme, "k1", 5)]) == 1
    with pytest.raises(DatabaseError):
        ledger.append_if(guard, ["Renamed again", acme_id], [usage(acme, "k2", 1, meter="x" * 65)])

    assert list(UsageEvent.objects.values_list("idempotency_key", flat=True)) == ["k1"]
    assert rollups() == {(acme_id, "ocr", "pages", T0.replace(minute=0)): (5, 1)}
    assert type(acme).objects.get(pk=acme_id).name == "Renamed"


def test_keys_are_shared_between_append_and_ingest(acme):
    assert append([usage(acme, "a", 2), usage(acme, "b", 3)]) == 2
    assert ledger.ingest([usage(acme, "b", 3), usage(acme, "c", 4)]) == 1
    assert append([usage(acme, "c", 4), usage(acme, "d", 5)]) == 1

    assert sorted(UsageEvent.objects.values_list("idempotency_key", flat=True)) == ["a", "b", "c", "d"]
    assert rollups() == {(acme.pk, "ocr", "pages", T0.replace(minute=0)): (14, 4)}


def test_ingest_counts_a_key_repeated_in_the_same_batch_once(acme):
    batch = [usage(acme, "dup", 5), usage(acme, "one", 1), usage(acme, "dup", 5), usage(acme, "dup", 5)]

    assert ledger.ingest(batch) == 2
    assert ledger.ingest(batch) == 0
    assert UsageEvent.objects.count() == 2
    assert rollups() == {(acme.pk, "ocr", "pages", T0.replace(minute=0)): (6, 2)}


def test_ingest_records_the_first_of_repeated_keys_in_a_batch(acme):
    assert ledger.ingest([usage(acme, "dup", 5), usage(acme, "dup", 9), usage(acme, "dup", 7)]) == 1

    assert UsageEvent.objects.get(idempotency_key="dup").quantity == 5
    assert rollups() == events_by_hour()


def test_ingest_of_nothing_records_nothing(acme):
    assert ledger.ingest([]) == 0
    assert ledger.ingest(iter(())) == 0
    assert not UsageRollup.objects.exists()


def test_ingest_takes_any_iterable(acme):
    assert ledger.ingest(usage(acme, f"gen-{i}", i) for i in range(1, 11)) == 10
    assert rollups() == {(acme.pk, "ocr", "pages", T0.replace(minute=0)): (55, 10)}


# --- rollups -----------------------------------------------------------------


def _mixed_usage(acme, globex, prefix: str) -> list[ledger.UsageRecord]:
    records = []
    for i in range(60):
        organization = acme if i % 3 else globex
        capability, meter = [("ocr", "pages"), ("ocr", "api_calls"), ("summaries", "summaries")][i % 3]
        at = T0 + timedelta(minutes=17 * i)
        records.append(usage(organization, f"{prefix}-{i}", i + 1, at=at, capability=capability, meter=meter))
    return records


def test_a_batch_of_new_keys_is_copied_straight_into_the_ledger(acme, globex):
    records = _mixed_usage(acme, globex, "fresh")
    with CaptureQueriesContext(connection) as queries:
        assert ledger.ingest(records) == 60
    assert not [query for query in queries if "TEMPORARY TABLE" in query["sql"]]
    assert UsageEvent.objects.count() == 60
    assert rollups() == events_by_hour()


def test_a_batch_with_one_recorded_key_goes_through_staging_and_records_the_rest(acme, globex):
    records = _mixed_usage(acme, globex, "late")
    append([records[-1]])  # the last key in byte order: COPY fails on its last row
    with CaptureQueriesContext(connection) as queries:
        assert ledger.ingest(records) == 59
    assert [query for query in queries if "TEMPORARY TABLE" in query["sql"]]
    assert UsageEvent.objects.count() == 60
    assert rollups() == events_by_hour()


def test_a_copied_batch_grows_the_rollups_by_its_own_rows_only(acme, monkeypatch):
    # Events recorded at the very same moment in the same transaction, before
    # the batch, are not the batch's: the rollups count each once.
    monkeypatch.setattr(ledger, "_now", lambda: T0)
    with transaction.atomic():
        assert len(ledger.append([usage(acme, "before", 2)])) == 1
        assert ledger.ingest([usage(acme, "copied-1", 3), usage(acme, "copied-2", 4)]) == 2
    assert set(UsageEvent.objects.values_list("recorded_at", flat=True)) == {T0}
    assert rollups() == {(acme.pk, "ocr", "pages", T0.replace(minute=0)): (9, 3)}


def test_rollups_equal_the_events_grouped_by_hour(acme, globex):
    records = _mixed_usage(acme, globex, "mix")
    append(records[:25])
    ledger.ingest(records[10:50])  # overlaps the append
    append(records[45:])

    assert UsageEvent.objects.count() == 60
    grouped = events_by_hour()
    assert len(grouped) > 10
    assert rollups() == grouped
    assert sum(quantity for quantity, _ in grouped.values()) == sum(range(1, 61))


def test_rollup_hours_are_utc_hours_whatever_the_zone_of_the_event(acme):
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30: its hours start at half past UTC hours
    at = datetime(2026, 3, 2, 15, 10, tzinfo=kolkata)  # 09:40 UTC
    append([usage(acme, "appended", 2, at=at)])
    ledger.ingest([usage(acme, "ingested", 3, at=at + timedelta(minutes=5))])

    assert rollups() == {(acme.pk, "ocr", "pages", datetime(2026, 3, 2, 9, tzinfo=UTC)): (5, 2)}
    assert rollups() == events_by_hour()


def test_negative_corrections_reduce_the_rollup_and_count_as_events(acme, fiona):
    append([usage(acme, "job:1:pages", 10), usage(acme, "job:2:pages", 5)])
    correction = usage(
        acme, "correction:1", -4, kind=EventKind.CORRECTION, reason="Duplicate upload", created_by_id=fiona.pk
    )
    append([correction])
    append([correction])

    event = UsageEvent.objects.get(idempotency_key="correction:1")
    assert (event.quantity, event.kind, event.reason, event.created_by) == (
        -4,
        EventKind.CORRECTION,
        "Duplicate upload",
        fiona,
    )
    assert rollups() == {(acme.pk, "ocr", "pages", T0.replace(minute=0)): (11, 3)}
    assert rollups() == events_by_hour()


def test_event_fields_are_stored_as_given(acme):
    append(
        [usage(acme, "k", 7, kind=EventKind.COMPUTE, meter="compute_seconds", job_id=42, properties={"a": 1})]
    )
    ledger.ingest(
        [usage(acme, "i", 8, kind=EventKind.API_CALLS, meter="api_calls", properties={"b": [1, 2]})]
    )

    appended = UsageEvent.objects.get(idempotency_key="k")
    ingested = UsageEvent.objects.get(idempotency_key="i")
    assert (appended.kind, appended.meter, appended.job_id, appended.properties) == (
        EventKind.COMPUTE,
        "compute_seconds",
        42,
        {"a": 1},
    )
    assert (ingested.kind, ingested.properties, ingested.occurred_at) == (
        EventKind.API_CALLS,
        {"b": [1, 2]},
        T0,
    )


# --- what a record may hold ----------------------------------------------------


@pytest.mark.parametrize("quantity", [1.0, 2.5, True, False, "3"])
def test_quantities_are_whole_numbers(acme, quantity):
    with pytest.raises(TypeError, match="whole numbers"):
        usage(acme, "k", quantity)


def test_naive_datetimes_are_refused(acme):
    with pytest.raises(ValueError, match="timezone-aware"):
        usage(acme, "k", at=datetime(2026, 3, 2, 9, 15))


# --- append-only -------------------------------------------------------------


@pytest.fixture
def recorded(acme) -> UsageEvent:
    append([usage(acme, "k", 5)])
    return UsageEvent.objects.get(idempotency_key="k")


def test_the_orm_refuses_to_update_or_delete_events(recorded):
    with pytest.raises(PermissionError, match="append-only"):
        UsageEvent.objects.filter(pk=recorded.pk).update(quantity=50)
    with pytest.raises(PermissionError, match="append-only"):
        UsageEvent.objects.all().delete()
    recorded.quantity = 50
    with pytest.raises(PermissionError, match="append-only"):
        recorded.save()
    with pytest.raises(PermissionError, match="append-only"):
        recorded.delete()
    assert UsageEvent.objects.get(pk=recorded.pk).quantity == 5


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE metering_usageevent SET quantity = 50 WHERE id = %s",
        "DELETE FROM metering_usageevent WHERE id = %s",
    ],
)
def test_the_database_refuses_to_update_or_delete_events(recorded, sql):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [recorded.pk])
    assert UsageEvent.objects.get(pk=recorded.pk).quantity == 5


# --- concurrency -------------------------------------------------------------


def _append_count(records: list[ledger.UsageRecord]) -> int:
    return len(ledger.append(records))


def _append_if_count(records: list[ledger.UsageRecord]) -> int:
    recorded = ledger.append_if("SELECT 1", [], records)
    assert recorded is not None
    return recorded


WRITERS: dict[str, Callable[[list[ledger.UsageRecord]], int]] = {
    "append": _append_count,
    "ingest": ledger.ingest,
    "append_if": _append_if_count,
}


def _wait_for_a_lock_wait(deadline: float) -> None:
    """Block until another backend of this database waits on a lock."""
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("The second writer never waited for the first one's keys")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("append", "append"),
        ("append", "ingest"),
        ("ingest", "append"),
        ("ingest", "ingest"),
        ("append_if", "append"),
        ("append", "append_if"),
        ("append_if", "ingest"),
        ("ingest", "append_if"),
        ("append_if", "append_if"),
    ],
)
def test_two_connections_writing_the_same_keys_at_once_count_them_once(acme, first, second):
    """The second writer reaches the keys while the first one's transaction,
    which inserted them, is still open: it must wait, then skip them all."""
    records = [usage(acme, f"job:7:{meter}", 3, meter=meter) for meter in ("pages", "compute_seconds")]
    inserted_by_first = threading.Event()
    commit_first = threading.Event()

    def write(writer: str, before_commit: Callable[[], None] = lambda: None) -> int:
        try:
            with transaction.atomic():
                count = WRITERS[writer](records)
                before_commit()
            return count
        finally:
            connection.close()

    def hold_until_told() -> None:
        inserted_by_first.set()
        commit_first.wait(timeout=30)

    with ThreadPoolExecutor(max_workers=2) as pool:
        try:
            first_result = pool.submit(write, first, hold_until_told)
            assert inserted_by_first.wait(timeout=30) or first_result.result()
            second_result = pool.submit(write, second)
            _wait_for_a_lock_wait(time.monotonic() + 30)
        finally:
            commit_first.set()
        assert (first_result.result(timeout=60), second_result.result(timeout=60)) == (2, 0)

    assert UsageEvent.objects.count() == 2
    assert rollups() == events_by_hour()
    assert set(rollups().values()) == {(3, 1)}


@pytest.mark.django_db(transaction=True)
def test_many_connections_racing_with_the_same_batch_count_it_once(acme, globex):
    records = _mixed_usage(acme, globex, "race")
    writers = ("append", "ingest", "append_if") * 2
    start = threading.Barrier(len(writers))

    def write(writer: str) -> int:
        try:
            start.wait(timeout=30)
            with transaction.atomic():
                return WRITERS[writer](records)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(writers)) as pool:
        counts = list(pool.map(write, writers, timeout=60))

    assert sorted(counts) == [0, 0, 0, 0, 0, 60]
    assert UsageEvent.objects.count() == 60
    assert rollups() == events_by_hour()


@pytest.mark.parametrize("writer", ["append", "ingest", "append_if"])
def test_daily_and_monthly_rollups_sum_the_hours(acme, globex, writer):
    from metering.models import UsageDailyRollup, UsageMonthlyRollup

    moments = [
        datetime(2026, 1, 31, 23, 59, tzinfo=UTC),
        datetime(2026, 2, 1, 0, 0, tzinfo=UTC),
        datetime(2026, 2, 1, 13, 5, tzinfo=UTC),
        datetime(2026, 2, 14, 8, 0, tzinfo=UTC),
    ]
    records = [
        ledger.UsageRecord(
            organization_id=organization.pk,
            capability="ocr",
            meter="pages",
            quantity=index + 1,
            occurred_at=moment,
            idempotency_key=f"grain:{organization.slug}:{index}",
        )
        for organization in (acme, globex)
        for index, moment in enumerate(moments)
    ]
    with transaction.atomic():
        WRITERS[writer](records)
    hours = UsageRollup.objects.all()
    by_day: dict[tuple, list[int]] = {}
    by_month: dict[tuple, list[int]] = {}
    for row in hours:
        for grouped, bucket in ((by_day, row.hour.date()), (by_month, row.hour.date().replace(day=1))):
            total = grouped.setdefault((row.organization_id, bucket), [0, 0])
            total[0] += row.quantity
            total[1] += row.events
    assert {
        (r.organization_id, r.day): [r.quantity, r.events] for r in UsageDailyRollup.objects.all()
    } == by_day
    assert {
        (r.organization_id, r.month): [r.quantity, r.events] for r in UsageMonthlyRollup.objects.all()
    } == by_month
    assert by_month[(acme.pk, date(2026, 2, 1))] == [2 + 3 + 4, 3]


# --- append_batch: a reported batch in one statement ---------------------------


def test_append_batch_returns_the_new_keys_and_rolls_up_exactly_them(acme, globex):
    assert append([usage(acme, "known", 4)]) == 1
    ist = ZoneInfo("Asia/Kolkata")
    batch = [
        usage(acme, "known", 100),  # already in the ledger
        usage(acme, "a", 2, properties={"cloudevent": {"source": "s", "id": "a"}}),
        usage(acme, "a", 50),  # repeated in the batch: the first counts
        usage(globex, "b", 3, at=(T0 + timedelta(hours=5)).astimezone(ist)),
        usage(acme, "c", 7, at=T0 - timedelta(days=20)),
    ]
    assert ledger.append_batch(batch) == {"a", "b", "c"}
    assert ledger.append_batch(batch) == set()
    assert rollups() == events_by_hour()
    assert UsageEvent.objects.get(idempotency_key="a").properties == {
        "cloudevent": {"source": "s", "id": "a"}
    }
    assert UsageEvent.objects.get(idempotency_key="b").occurred_at == T0 + timedelta(hours=5)
    assert sum(UsageEvent.objects.values_list("quantity", flat=True)) == 4 + 2 + 3 + 7
    assert ledger.recorded_keys(["a", "zzz", "known"]) == {"a", "known"}


# --- storage -----------------------------------------------------------------


def _updates(table: str) -> tuple[int, int]:
    """Rows of `table` this transaction updated, and how many of those were
    heap-only (HOT: the new version on the same page, no new index entry)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = %s", [table]
        )
        updated, hot = cursor.fetchone()
    return int(updated), int(hot)


@pytest.mark.parametrize(
    "table", ["metering_usagerollup", "metering_usagedailyrollup", "metering_usagemonthlyrollup"]
)
def test_adding_to_rollup_rows_on_a_full_page_rewrites_them_in_place(acme, table):
    # 300 events, each in a month of its own: 300 new rows in every grain,
    # written in their lock order, so the first months fill the first page.
    months = [datetime(2001 + n // 12, n % 12 + 1, 3, 9, tzinfo=UTC) for n in range(300)]
    ledger.ingest([usage(acme, f"first-{n}", at=at) for n, at in enumerate(months)])
    before = _updates(table)
    # Adding to ten rows of that first page: the page kept room for their new
    # versions (the tables' fillfactor), so none of them is indexed again.
    ledger.ingest([usage(acme, f"again-{n}", at=at) for n, at in enumerate(months[:10])])
    updated, hot = (after - earlier for after, earlier in zip(_updates(table), before, strict=True))
    assert (updated, hot) == (10, 10)
