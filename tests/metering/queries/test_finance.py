"""Finance's read models across organizations: usage by organization, the
ranking, search, and query counts that do not grow with the rows."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.finance_dashboard import top_organizations
from metering import meter_prices, periods
from metering.models import UsageRollup
from metering.queries import finance, usage
from metering.queries.sources import source_of
from tests.factories import OrganizationFactory
from tests.metering.usage_data import NOW, record

pytestmark = pytest.mark.django_db


def test_usage_by_organization_and_the_top_organizations(acme, globex):
    initech = OrganizationFactory(name="Initech", slug="initech")
    record(acme, 100)  # $1.00
    record(globex, 2, capability="summaries", meter="summaries")  # $0.10
    record(globex, 500)  # $5.00
    record(initech, 5, meter="compute_seconds")  # free

    lines = finance.usage_by_organization(UsageRollup.objects.all(), periods.billing_period(NOW))
    top = top_organizations(lines)

    assert [(item.organization_slug, item.line.meter, item.revenue) for item in lines][:2] == [
        ("globex", "pages", Decimal("5.000")),
        ("acme", "pages", Decimal("1.000")),
    ]
    assert [(org.slug, org.revenue) for org in top] == [
        ("globex", {"usd": Decimal("5.10")}),
        ("acme", {"usd": Decimal("1.000")}),
    ]


def test_finance_queries_do_not_grow_with_the_rows(acme, globex, monkeypatch):
    monkeypatch.setattr("billing.price_book.CACHE_SECONDS", 3600)  # however slow this machine is
    period = periods.billing_period(NOW)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            lines = finance.usage_by_organization(UsageRollup.objects.all(), period)
            usage.usage_by_meter(UsageRollup.objects.all(), period)
            usage.usage_over_time(UsageRollup.objects.all(), period)
            top_organizations(lines)
        return len(captured)

    record(acme, 1)
    meter_prices.meters()  # the prices: read once, then cached for a few seconds per process
    few = count()
    for n in range(30):
        organization = OrganizationFactory(slug=f"tenant-{n}")
        record(organization, n + 1, at=NOW - timedelta(days=n % 9, hours=n))
        record(organization, 1, capability="summaries", meter="summaries")

    assert count() == few == 4


def test_search_organizations(acme, globex):
    record(acme, 1)
    record(globex, 2)
    rollups = finance.search_organizations(UsageRollup.objects.all(), "GLOB")
    assert {row.organization_id for row in rollups} == {globex.pk}


def test_each_line_is_priced_by_its_own_meter_with_the_prices_as_one_parameter(acme, monkeypatch):
    """The prices travel as one JSON parameter, not a CASE branch per meter
    repeated wherever the price is used: the statement is the same size
    however many meters there are. A meter the price list does not name is
    priced at zero, in US dollars."""
    from dataclasses import replace

    record(acme, 100)  # ocr pages at $0.01
    record(acme, 3, capability="summaries", meter="summaries")  # $0.05 each
    record(acme, 7, capability="retired", meter="widgets")  # no price
    period = periods.billing_period(NOW)
    source = source_of(UsageRollup.objects.all())

    lines = {
        (line["capability"], line["meter"]): (line["unit_price"], line["currency"], line["amount"])
        for line in finance.organization_lines(source, period)
    }
    assert lines == {
        ("ocr", "pages"): (Decimal("0.01"), "usd", Decimal("1.00")),
        ("summaries", "summaries"): (Decimal("0.05"), "usd", Decimal("0.15")),
        ("retired", "widgets"): (Decimal("0"), "usd", Decimal("0.00")),
    }

    def statement() -> tuple[str, int]:
        sql, params = finance.organization_lines(source, period).query.sql_with_params()
        return sql, len(params)

    known = meter_prices.meters()
    few = statement()
    # Priced once per line: the lookup depends only on the grouped capability
    # and meter, so the lines are grouped by their five fields alone (Django
    # writes their positions), not by the price and currency too, which would
    # compute the lookup for every rollup row.
    assert "jsonb" in few[0]
    assert few[0].partition("GROUP BY")[2].partition(" ORDER BY")[0].strip() == "1, 2, 3, 4, 5"
    more = known + [replace(info, meter=f"{info.meter}_{n}") for n in range(3) for info in known]
    monkeypatch.setattr(meter_prices, "meters", lambda: more)
    assert statement() == few
