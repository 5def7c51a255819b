"""The request_overhead benchmark's code path, quickly: wrk's report is read
right, and a one-second run against a real gunicorn on the test database
answers both paths and counts every keyed call it answered. No timing is
asserted."""

from __future__ import annotations

import json
import shutil

import pytest

from bench import harness, request_overhead
from tests.workers import worker_environment

REPORT = """Running 5s test @ http://127.0.0.1:8000/api/v1/c/summaries/count/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.50ms    3.10ms  41.22ms   85.12%
    Req/Sec   620.11     80.03   810.00     71.00%
  Latency Distribution
     50%  591.00us
     75%    7.40ms
     90%    9.80ms
     99%    1.02s
  6180 requests in 5.01s, 1.89MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 3
Requests/sec:   1233.53
Transfer/sec:    386.37KB
"""


def test_wrks_report_gives_the_rate_the_percentiles_and_every_failure():
    load = request_overhead.parse_wrk(REPORT)
    assert load.requests == 6180
    assert load.per_second == pytest.approx(1233.53)
    assert load.p50_ms == pytest.approx(0.591)
    assert load.p99_ms == pytest.approx(1020.0)
    assert load.failed == 6  # 3 non-2xx answers, 3 socket errors


def test_a_report_without_failures_has_none():
    clean = REPORT.replace("  Socket errors: connect 0, read 2, write 0, timeout 1\n", "")
    clean = clean.replace("  Non-2xx or 3xx responses: 3\n", "")
    assert request_overhead.parse_wrk(clean).failed == 0


def test_a_report_without_its_figures_is_refused():
    with pytest.raises(RuntimeError, match="report has no"):
        request_overhead.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (scripts/ensure-browser installs it)"
)
def test_a_short_run_answers_both_paths_and_counts_every_keyed_call(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", worker_environment()["DATABASE_URL"])  # the server's database
    monkeypatch.setattr(harness, "RESULTS", tmp_path)

    result = request_overhead.run(rounds=1, seconds=1, warm_up=1)

    assert result["ours"] > 0 and result["baseline"] > 0
    assert result["api_calls_answered"] > 1
    assert set(result["queries_per_request"]) == {"ours", "baseline"}
    # wrk does not count the answers still in flight when it stops; the server does.
    assert result["api_calls_in_ledger"] >= result["api_calls_answered"]
    written = json.loads((tmp_path / "request_overhead.json").read_text())
    assert written["name"] == "request_overhead" and written["paths"]["baseline"] == "/bench/bare-api/"
