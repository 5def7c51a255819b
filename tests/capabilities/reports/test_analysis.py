"""The report's figures: totals, rankings and the two underperformance rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from capabilities.reports.analysis import Summary
from capabilities.reports.sales import SaleRow


def _summary(rows: list[tuple[str, str, str, int, str]]) -> dict:
    summary = Summary()
    source = summary.start_file("sales.csv")
    for day, region, sku, units, revenue in rows:
        summary.add(SaleRow(date.fromisoformat(day), region, sku, units, Decimal(revenue)), source)
    return summary.as_result()


def test_totals_months_and_average_price_are_exact():
    result = _summary(
        [
            ("2025-01-05", "North", "A", 3, "0.10"),
            ("2025-01-06", "North", "B", 3, "0.20"),
            ("2025-02-01", "South", "A", 1, "1.00"),
        ]
    )
    assert result["totals"]["revenue"] == "1.30"
    assert result["totals"]["units"] == 7
    assert result["totals"]["average_price"] == "0.19"  # 1.30 / 7, half up
    assert [(m["month"], m["revenue"], m["units"]) for m in result["months"]] == [
        ("2025-01", "0.30", 6),
        ("2025-02", "1.00", 1),
    ]


def test_skus_are_ranked_by_revenue_then_units_then_name():
    result = _summary(
        [
            ("2025-01-05", "North", "C", 1, "50"),
            ("2025-01-05", "North", "B", 5, "50"),
            ("2025-01-05", "North", "A", 5, "50"),
            ("2025-01-05", "North", "D", 9, "80"),
        ]
    )
    assert result["top_skus"] == ["D", "A", "B", "C"]
    assert [row["rank"] for row in result["skus"]] == [1, 2, 3, 4]


def test_a_region_far_below_the_median_is_flagged_against_its_peers():
    result = _summary(
        [
            ("2025-01-05", "North", "A", 1, "1000"),
            ("2025-01-05", "South", "A", 1, "800"),
            ("2025-01-05", "East", "A", 1, "500"),
            ("2025-01-05", "West", "A", 1, "300"),  # median 650: floor 325
        ]
    )
    peers = [flag for flag in result["flags"] if flag["rule"] == "peers"]
    assert [flag["region"] for flag in peers] == ["West"]
    assert "46.2% of the median region ($650.00)" in peers[0]["reason"]


def test_the_peer_rule_needs_three_regions():
    result = _summary([("2025-01-05", "North", "A", 1, "1000"), ("2025-01-05", "South", "A", 1, "1")])
    assert result["flags"] == []
    assert result["rules"]["peers"]["basis"] == "Needs three regions or more."


def test_a_region_whose_last_quarter_fell_is_flagged_against_its_trend():
    rows = []
    for month in range(1, 7):
        rows.append((f"2025-{month:02d}-10", "North", "A", 1, "100"))
        rows.append((f"2025-{month:02d}-10", "South", "A", 1, "100" if month <= 3 else "79"))
        rows.append((f"2025-{month:02d}-10", "East", "A", 1, "100" if month <= 3 else "81"))
    result = _summary(rows)
    trend = [flag for flag in result["flags"] if flag["rule"] == "trend"]
    assert [flag["region"] for flag in trend] == ["South"]  # -21%; East is -19%
    assert "2025-04 to 2025-06 $237.00 vs $300.00 in 2025-01 to 2025-03 (-21.0%)" in trend[0]["reason"]


def test_the_trend_rule_is_skipped_without_a_previous_quarter():
    result = _summary([(f"2025-{month:02d}-10", "North", "A", 1, "100") for month in (1, 2, 3)])
    assert [flag for flag in result["flags"] if flag["rule"] == "trend"] == []
    assert result["rules"]["trend"]["basis"].startswith("Needs sales from 2024-10 or earlier")


def test_flag_texts_show_money_as_money():
    """Issue 13: "Revenue 76322.96 is …" in the flags: amounts in a sentence are
    written with the currency and thousands separators."""
    result = _summary(
        [
            ("2025-01-05", "North", "A", 1, "176322.96"),
            ("2025-01-05", "South", "A", 1, "180000"),
            ("2025-01-05", "East", "A", 1, "160000"),
            ("2025-01-05", "West", "A", 1, "76322.96"),
        ]
    )
    [west] = [flag for flag in result["flags"] if flag["rule"] == "peers"]
    assert west["reason"].startswith("Revenue $76,322.96 is 45.4% of the median region ($168,161.48)")
    assert west["revenue"] == "76322.96"  # the data stays an exact decimal string
    assert result["rules"]["peers"]["basis"] == "Median region revenue $168,161.48; floor $84,080.74."
