"""The capabilities' figures for /metrics (portal/metrics.py), one sample per
capability, computed at scrape time from `capabilities.monitoring` (bounded:
two grouped job queries, the degraded rows, one broker round trip). Figures
over the last hour are gauges, not counters: they go down as the hour moves
on. Broker figures are left out of a scrape the broker did not answer
(`switchboard_broker_up` is then 0), so that a graph has a gap, not a zero."""

from __future__ import annotations

from collections.abc import Iterator

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from capabilities.monitoring import capability_figures

PREFIX = "switchboard_capability_"


def _gauge(name: str, documentation: str, *labels: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}{name}", documentation, labels=["capability", *labels])


class CapabilityCollector:
    """A prometheus_client custom collector."""

    def describe(self) -> list[Metric]:
        return []  # nothing at registration: figures are read when scraped

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        figures = capability_figures(now)
        queued = _gauge("jobs_queued", "Jobs waiting for a worker (database).")
        oldest = _gauge(
            "oldest_queued_job_age_seconds", "How long the oldest queued job has waited; 0 when none."
        )
        running = _gauge("jobs_running", "Jobs a worker is running.")
        finished = _gauge("jobs_finished_last_hour", "Jobs finished in the last hour, by outcome.", "outcome")
        p50 = _gauge("job_duration_p50_seconds", "Median run time of the jobs finished in the last hour.")
        p95 = _gauge(
            "job_duration_p95_seconds", "95th percentile run time of the jobs finished in the last hour."
        )
        degraded = _gauge("degraded", "1 while the capability is degraded (its jobs fail above the rule).")
        messages = _gauge("queue_messages", "Messages waiting in the capability's queue in the broker.")
        workers = _gauge("workers", "Workers consuming the capability's queue.")
        service = _gauge("service_up", "1 when the external capability's health URL answered 2xx in time.")
        broker_up = False
        for figure in figures:
            key = [figure.capability.key]
            jobs = figure.jobs
            queued.add_metric(key, jobs.queued)
            oldest.add_metric(key, figure.oldest_age(now) or 0.0)
            running.add_metric(key, jobs.running)
            finished.add_metric([*key, "succeeded"], jobs.succeeded)
            finished.add_metric([*key, "failed"], jobs.failed)
            if jobs.duration_p50 is not None:
                p50.add_metric(key, jobs.duration_p50.total_seconds())
            if jobs.duration_p95 is not None:
                p95.add_metric(key, jobs.duration_p95.total_seconds())
            degraded.add_metric(key, 1 if figure.degraded is not None else 0)
            if figure.messages is not None and figure.workers is not None:
                broker_up = True
                messages.add_metric(key, figure.messages)
                workers.add_metric(key, len(figure.workers))
            if figure.service is not None:
                service.add_metric(key, 1 if figure.service.up else 0)
        yield from (queued, oldest, running, finished, p50, p95, degraded, messages, workers, service)
        yield GaugeMetricFamily(
            "switchboard_broker_up",
            "1 when the broker answered for queue depths and workers.",
            value=int(broker_up),
        )
