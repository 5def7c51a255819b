"""The executive summary of a report: written from its figures, the same every
time, on the page and in the PDF; a model's rewording is kept only when it
holds exactly the summary's numbers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from capabilities import language_model
from capabilities.models import Job
from capabilities.reports import exports, narrative
from tests.capabilities.reports.conftest import csv_bytes, month_rows, upload
from tests.language_model_server import running_model_server

# Three months, three regions, three SKUs: February is best, East sells least.
ROWS = [
    [date(2025, 1, 5), "North", "A-100", 10, Decimal("100.00")],
    [date(2025, 1, 9), "South", "B-200", 4, Decimal("60.50")],
    [date(2025, 1, 20), "East", "C-300", 1, Decimal("10.00")],
    [date(2025, 2, 5), "North", "A-100", 12, Decimal("150.00")],
    [date(2025, 2, 9), "South", "B-200", 5, Decimal("70.00")],
    [date(2025, 2, 20), "East", "C-300", 1, Decimal("10.00")],
    [date(2025, 3, 5), "North", "A-100", 8, Decimal("90.00")],
    [date(2025, 3, 9), "South", "B-200", 6, Decimal("80.00")],
    [date(2025, 3, 20), "East", "C-300", 1, Decimal("10.00")],
]
SUMMARY = (
    "From January 2025 to March 2025, revenue was $580.50 from 48 units, across 3 regions and 3 SKUs. "
    "Monthly revenue went from $170.50 in January 2025 to $180.00 in March 2025, up 5.6%. "
    "The best month was February 2025 at $230.00; the weakest was January 2025 at $170.50. "
    "The top-selling SKUs were A-100 ($340.00, 58.6% of revenue), B-200 ($210.50, 36.3% of revenue) "
    "and C-300 ($30.00, 5.2% of revenue). "
    "Underperforming: East (below its peers: $30.00 against the median region's $210.50)."
)


@pytest.fixture
def report(uploaded, built, settings):
    settings.CAPABILITY_SETTINGS = {"reports": {"LLM_BASE_URL": ""}}
    found = built(uploaded([upload("q1.csv", csv_bytes(ROWS))]))
    assert found.job.status == Job.Status.SUCCEEDED, found.job.error
    return found


def test_the_summary_says_the_figures(report):
    figures = report.figures
    assert figures["summary"] == {"text": SUMMARY, "reworded": False}
    # Every figure it states is one of the report's, formatted as the pages format money.
    assert narrative.executive_summary(figures) == SUMMARY
    assert figures["totals"]["revenue"] == "580.50" and figures["totals"]["units"] == 48
    assert [flag["region"] for flag in figures["flags"]] == ["East"]


def test_a_falling_region_and_a_single_month_read_right(uploaded, built, settings):
    settings.CAPABILITY_SETTINGS = {"reports": {"LLM_BASE_URL": ""}}
    # West sells 100 a month for three months, then 10: flagged on its trend.
    rows = [row for month in range(1, 7) for row in month_rows(month)]
    rows += [
        [date(2025, month, 15), "West", "D-400", 1, Decimal(100 if month <= 3 else 10)]
        for month in range(1, 7)
    ]
    figures = built(uploaded([upload("h1.csv", csv_bytes(rows))])).figures
    assert "West (falling: $30.00 in the last three months against $300.00)" in figures["summary"]["text"]

    single = built(uploaded([upload("jan.csv", csv_bytes(month_rows(1)))])).figures
    text = single["summary"]["text"]
    assert text.startswith("In January 2025, revenue was $180.50 from 16 units, across 3 regions and 2 SKUs.")
    assert "best month" not in text and "Monthly revenue" not in text


def test_the_summary_is_on_the_page_and_in_the_pdf(report, alice, client_for):
    page = client_for(alice).get(reverse("reports:report", args=[report.pk]))
    assert page.status_code == 200
    assert SUMMARY.replace("'", "&#x27;") in page.content.decode()
    assert "Written from this report's figures." in page.content.decode()
    content = exports.pdf_bytes("Q1", report.figures, compress=False)
    assert b"Summary" in content
    for phrase in (b"$580.50 from 48 units", b"February 2025 at $230.00", b"Underperforming: East"):
        assert phrase in content


def test_a_report_built_before_summaries_gets_one_from_its_figures(report):
    older = {key: value for key, value in report.figures.items() if key != "summary"}
    assert narrative.summary_of(older) == {"text": SUMMARY, "reworded": False}
    assert b"$580.50 from 48 units" in exports.pdf_bytes("Q1", older, compress=False)


REWORDED = (
    "Between January 2025 and March 2025 the business took $580.50 on 48 units over 3 regions and 3 SKUs; "
    "monthly revenue rose 5.6% from $170.50 (January 2025) to $180.00 (March 2025), peaking in "
    "February 2025 at $230.00 with January 2025 the low at $170.50. A-100 led with $340.00 (58.6%), then "
    "B-200 at $210.50 (36.3%) and C-300 at $30.00 (5.2%). "
    "East lags its peers: $30.00 against a median of $210.50."
)


@pytest.mark.parametrize(
    ("rewrite", "kept"),
    [
        (REWORDED, True),
        (REWORDED.replace("$230.00", "$320.00"), False),  # a changed number
        (REWORDED.replace(" (5.2%)", ""), False),  # a dropped number
        (REWORDED + " Growth should reach 10% next year.", False),  # an added number
        (REWORDED.replace("3 regions", "three regions"), True),  # the same number, in words
        (None, False),  # the server failed
    ],
)
def test_a_rewording_is_kept_only_with_exactly_the_summarys_numbers(
    uploaded, built, settings, monkeypatch, rewrite, kept
):
    settings.CAPABILITY_SETTINGS = {
        "reports": {"LLM_BASE_URL": "http://127.0.0.1:9/v1", "LLM_MODEL": "small"}
    }
    asked = []

    def chat(endpoint, messages, *, max_tokens):
        asked.append((endpoint, messages))
        return rewrite

    monkeypatch.setattr(language_model, "chat", chat)
    figures = built(uploaded([upload("q1.csv", csv_bytes(ROWS))])).figures
    ((endpoint, messages),) = asked
    assert endpoint.base_url == "http://127.0.0.1:9/v1" and endpoint.model == "small"
    assert messages[-1].content == SUMMARY
    assert figures["summary"] == (
        {"text": rewrite, "reworded": True} if kept else {"text": SUMMARY, "reworded": False}
    )


def test_the_model_server_defaults_to_the_qa_one(monkeypatch, settings):
    settings.CAPABILITY_SETTINGS = {}
    monkeypatch.delenv("REPORTS_LLM_BASE_URL", raising=False)
    monkeypatch.setenv("QA_LLM_BASE_URL", "http://127.0.0.1:8080/v1")
    assert narrative.endpoint() == language_model.Endpoint("http://127.0.0.1:8080/v1")
    monkeypatch.setenv("REPORTS_LLM_BASE_URL", "http://127.0.0.1:8081/v1")
    assert narrative.endpoint() == language_model.Endpoint("http://127.0.0.1:8081/v1")
    monkeypatch.delenv("QA_LLM_BASE_URL")
    monkeypatch.delenv("REPORTS_LLM_BASE_URL")
    assert narrative.endpoint() is None


@pytest.fixture(scope="module")
def model_server(tmp_path_factory) -> Iterator[str]:
    with running_model_server(tmp_path_factory.mktemp("llama")) as base_url:
        yield base_url


def test_a_real_models_rewording_is_kept_only_with_the_same_numbers(
    uploaded, built, settings, monkeypatch, model_server
):
    settings.CAPABILITY_SETTINGS = {"reports": {"LLM_BASE_URL": model_server}}
    replies = []
    ask = language_model.chat

    def recorded(*args, **options):
        replies.append(ask(*args, **options))
        return replies[-1]

    monkeypatch.setattr(language_model, "chat", recorded)
    figures = built(uploaded([upload("q1.csv", csv_bytes(ROWS))])).figures
    (reply,) = replies
    assert reply is not None  # the server answered; whether it kept the numbers is the model's business
    if narrative.keeps_the_numbers(reply, SUMMARY):
        assert figures["summary"] == {"text": reply, "reworded": True}
    else:
        assert figures["summary"] == {"text": SUMMARY, "reworded": False}
