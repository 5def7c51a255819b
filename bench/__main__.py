"""Run every benchmark: `python -m bench` (what `make bench` does) or
`python -m bench toggle_check` for one."""

from __future__ import annotations

import json
import os
import sys

BENCHMARKS = [
    "toggle_check",
    "toggle_propagation",
    # Before any benchmark that writes much usage: it seeds the demo, whose
    # Stripe push sends every organization's unpushed usage.
    "pages_under_load",
    "ledger_ingest",
    "cloudevents_ingest",
    "finance_dashboard",
    "job_overhead",
    "reconciliation",
    "notifications_send",
    "documents_extract",
    "reports_build",
    "api_call_metering",
    "qa_quality",
    "qa_speed",
    "contracts_fields",
    "ofrep_eval",
    "anomaly_detection",
    "request_overhead",
]


def main(names: list[str]) -> None:
    from bench.harness import bench_database_url, ensure_database

    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["DATABASE_URL"] = bench_database_url()
    os.environ.setdefault("DJANGO_ENV", "test")
    ensure_database(os.environ["DATABASE_URL"])

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    for name in names or BENCHMARKS:
        if name not in BENCHMARKS:
            raise SystemExit(f"Unknown benchmark {name!r}; choose from {BENCHMARKS}")
        module = __import__(f"bench.{name}", fromlist=["run"])
        result = module.run()
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
