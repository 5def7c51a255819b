"""`python -m bench.fault_run [--quick]`: the fault run of issue 12 (see the
package's docstring and README "Fault run"). Exits 1 when an invariant fails."""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.fault_run.load import Client, ClientCounts, LogicalUpload, generate_uploads
from bench.fault_run.processes import ROOT, Deployment, Settings, Timeline

POLL = 2.0  # seconds between looks at the jobs while waiting


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fault_run", description=__doc__)
    parser.add_argument("--documents", "-n", type=int, default=2000, help="documents (jobs) to upload")
    parser.add_argument("--quick", action="store_true", help="200 documents, for trying the run")
    parser.add_argument("--files-per-upload", type=int, default=1, help="files in one upload request")
    parser.add_argument("--threads", type=int, default=4, help="client threads uploading")
    parser.add_argument("--list-interval", type=float, default=0.5, help="seconds between keyed list calls")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per worker")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--kill-period", type=float, default=5.0, help="seconds between worker SIGKILLs")
    parser.add_argument("--restart-delay", type=float, default=1.0, help="seconds a killed worker stays down")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds Redis and PostgreSQL stay down")
    parser.add_argument(
        "--redis-at", type=float, default=0.35, help="share of uploads done at the Redis restart"
    )
    parser.add_argument("--postgres-at", type=float, default=0.7, help="share done when PostgreSQL restarts")
    parser.add_argument("--deadline", type=float, default=900, help="seconds for every job to finish")
    parser.add_argument("--retry-for", type=float, default=300, help="seconds an upload is retried")
    parser.add_argument("--settle", type=float, default=75, help="seconds API-call usage may take to flush")
    parser.add_argument("--sweep-interval", type=float, default=5.0, help="JOB_SWEEP_INTERVAL")
    parser.add_argument("--requeue-grace", type=float, default=5.0, help="JOB_REQUEUE_GRACE")
    parser.add_argument("--lease-seconds", type=float, default=15.0, help="JOB_LEASE_SECONDS")
    parser.add_argument("--lease-renew", type=float, default=3.0, help="JOB_LEASE_RENEW")
    parser.add_argument("--seed", type=int, default=12, help="random seed of files and kills")
    parser.add_argument("--var", type=Path, default=ROOT / "var" / "fault-run", help="folder, wiped first")
    args = parser.parse_args(argv)
    if args.quick:
        args.documents = 200
    return args


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _django(deployment: Deployment) -> None:
    """This process's own Django, on the run's servers, without a connection
    pool: it reads between faults and must not hold connections across them."""
    os.environ.update(deployment.environment())
    os.environ["DATABASE_POOL"] = "false"
    import django

    django.setup()


def _organization() -> tuple[int, str]:
    """An organization with Documents on and an API key, made through the actions."""
    from capabilities.actions import set_capability_enabled
    from portal.actions.api_keys import create_api_key
    from portal.actions.organizations import create_organization
    from portal.models import User

    ivan = User.objects.create_user("ivan@fault-run.test", full_name="Ivan Admin", is_staff=True)
    alice = User.objects.create_user("alice@fault-run.test", full_name="Alice Owner")
    organization, _ = create_organization(ivan, name="Fault Run", slug="fault-run", owner_email=alice.email)
    set_capability_enabled(alice, organization, "documents", enabled=True, reason="fault run")
    _key, secret = create_api_key(alice, organization, name="fault run client", scope="manage")
    return organization.pk, secret


def _read(what: Any, default: Any) -> Any:
    """A read of the database that may meet a restarting PostgreSQL."""
    from django.db import connection

    try:
        return what()
    except Exception:  # noqa: BLE001 - any database error here only means "not now"
        connection.close()
        return default


def _push_with_faults(
    args: argparse.Namespace, deployment: Deployment, client: Client, uploads: list[LogicalUpload]
) -> None:
    """Upload everything from `args.threads` threads while the faults happen."""
    timeline = deployment.timeline
    work: queue.Queue[LogicalUpload] = queue.Queue()
    for upload in uploads:
        work.put(upload)
    threads = [
        threading.Thread(target=client.uploader, args=(work,), daemon=True) for _ in range(args.threads)
    ]
    for thread in threads:
        thread.start()
    timeline.add("uploads started", uploads=len(uploads), threads=args.threads)
    redis_done = postgres_done = False
    next_kill = time.monotonic() + args.kill_period
    last_progress = 0.0
    while any(thread.is_alive() for thread in threads):
        done = client.finished / len(uploads)
        if not redis_done and done >= args.redis_at:
            deployment.restart_redis_without_data(args.outage)
            redis_done = True
        elif not postgres_done and done >= args.postgres_at:
            deployment.restart_postgres(args.outage)
            postgres_done = True
        elif time.monotonic() >= next_kill:
            deployment.kill_random_worker(args.restart_delay)
            next_kill = time.monotonic() + args.kill_period * random.uniform(0.6, 1.4)
        deployment.revive_exited()
        if time.monotonic() - last_progress > 10:
            print(f"  uploads answered: {client.finished}/{len(uploads)}", flush=True)
            last_progress = time.monotonic()
        time.sleep(0.2)
    timeline.add("uploads answered", uploads=client.finished)


def _wait_for_jobs(args: argparse.Namespace, deployment: Deployment, organization_id: int) -> bool:
    from bench.fault_run.checks import TERMINAL, job_counts

    deadline = time.monotonic() + args.deadline
    last_print = 0.0
    while time.monotonic() < deadline:
        deployment.revive_exited()
        counts = _read(lambda: job_counts(organization_id), None)
        if counts is not None:
            unfinished = sum(count for status, count in counts.items() if status not in TERMINAL)
            if time.monotonic() - last_print > 10:
                print(f"  jobs: {counts}", flush=True)
                last_print = time.monotonic()
            if unfinished == 0:
                deployment.timeline.add("every job terminal", jobs=counts)
                return True
        time.sleep(POLL)
    deployment.timeline.add("deadline passed with jobs unfinished", deadline=args.deadline)
    return False


def _wait_for_api_calls(
    args: argparse.Namespace, deployment: Deployment, organization_id: int, expected: int
) -> None:
    """Until the ledger's `api_calls` equal the client's count, or stop changing
    for `args.settle` seconds (beat flushes them; a flush is asked for here too)."""
    from bench.fault_run.checks import api_calls_in_ledger

    flush = _flush_function()
    seen, since = -1, time.monotonic()
    while True:
        if flush is not None:
            _read(flush, 0)
        value = _read(lambda: api_calls_in_ledger(organization_id), seen)
        if value == expected:
            break
        if value != seen:
            seen, since = value, time.monotonic()
        elif time.monotonic() - since > args.settle:
            break
        time.sleep(POLL)
    deployment.timeline.add("api-call usage settled", in_ledger=value, client=expected)


def _flush_function() -> Any:
    """The metering flush of API calls, where this branch has one (the counting
    is being rewritten; then waiting for beat is enough)."""
    try:
        from metering import api_calls
    except ImportError:
        return None
    return getattr(api_calls, "flush", None)


def _print_report(report: dict[str, Any]) -> None:
    jobs, documents, ledger, api = report["jobs"], report["documents"], report["ledger"], report["api_calls"]
    print("\n=== fault run report ===")
    print(f"documents (jobs) requested: {report['config']['documents']}, "
          f"{report['config']['files_per_upload']} per upload")  # fmt: skip
    print(f"jobs: {jobs['total']} by status {jobs['by_status']}; attempts > 1: {jobs['attempts_over_1']} "
          f"{jobs['by_attempts']}")  # fmt: skip
    print(f"jobs published more than once: {jobs['republished']}, by messages sent {jobs['by_publications']}")
    for reason in jobs["not_succeeded_reasons"]:
        print(f"  not succeeded: {reason['jobs']} x {reason['code'] or '-'}: {reason['error']}")
    print(f"uploads: {documents['upload_outcomes']}, retried {documents['uploads_retried']}; "
          f"documents stored {documents['stored']} for {documents['distinct_stored']} distinct files "
          f"(duplicates {documents['duplicate_documents']}, stored but not acknowledged "
          f"{documents['stored_but_not_acknowledged']})")  # fmt: skip
    print(f"ledger: {ledger['meters']}")
    print(f"api calls: ledger {api['in_ledger']}, client 2xx {api['client_2xx']}; client {report['client']}")
    print("faults:")
    for event in report["timeline"]:
        if any(word in event["event"] for word in ("SIGKILL", "redis", "postgres", "exited")):
            details = {name: value for name, value in event.items() if name not in ("t", "at", "event")}
            print(f"  {event['t']:7.1f}s {event['event']} {details or ''}".rstrip())
    print("checks:")
    for item in report["checks"]:
        print(f"  [{'ok' if item['ok'] else 'FAIL'}] {item['name']}: {item['detail']}")
    print("PASSED" if report["passed"] else "FAILED")


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    random.seed(args.seed)
    base = args.var.resolve()
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    timeline = Timeline()
    settings = Settings(
        sweep_interval=args.sweep_interval,
        requeue_grace=args.requeue_grace,
        lease_seconds=args.lease_seconds,
        lease_renew=args.lease_renew,
        web_workers=args.web_workers,
        worker_concurrency=args.concurrency,
    )
    deployment = Deployment(base, _free_port(), settings, timeline)
    report: dict[str, Any] = {"config": {key: str(value) if isinstance(value, Path) else value
                                         for key, value in vars(args).items()}}  # fmt: skip
    try:
        deployment.start_servers()
        _django(deployment)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        organization_id, secret = _organization()
        timeline.add("migrated; organization with documents on and an API key", organization=organization_id)
        uploads = generate_uploads(args.documents, args.files_per_upload, args.seed)
        deployment.start_portal(args.workers)
        counts = ClientCounts()
        client = Client(deployment.url, secret, counts, args.retry_for)
        stop_listing = threading.Event()
        lister = threading.Thread(target=client.lister, args=(stop_listing, args.list_interval), daemon=True)
        lister.start()
        _push_with_faults(args, deployment, client, uploads)
        stop_listing.set()
        lister.join()
        _wait_for_jobs(args, deployment, organization_id)
        _wait_for_api_calls(args, deployment, organization_id, counts.as_dict()["keyed_2xx"])
        deployment.stop_portal()
        from bench.fault_run.checks import check

        report |= check(organization_id, uploads, counts)
        report["client"] = counts.as_dict()
        report["process_starts"] = {process.name: process.starts for process in deployment.processes()}
        report["timeline"] = timeline.events
        report["duration_seconds"] = timeline.elapsed()
    finally:
        deployment.stop_portal()
        deployment.stop_servers()
    (base / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    _print_report(report)
    print(f"report: {base / 'report.json'}; logs: {deployment.layout.logs}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
