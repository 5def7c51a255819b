"""/metrics: Switchboard's figures in Prometheus' text format, for a scraper
that sends `Authorization: Bearer <METRICS_TOKEN>`. The layers above the
tenancy app contribute collectors (the capabilities' per-capability figures)
that the portal serves without importing those apps; a collector computes its
figures when it is scraped, with bounded queries, never in the request path of
anyone else."""

from __future__ import annotations

from typing import Any

from prometheus_client.registry import Collector, CollectorRegistry

# auto_describe off: registering a collector must not run its queries (at
# start-up); its figures are read only when /metrics is scraped.
_registry = CollectorRegistry(auto_describe=False)
_registered: list[Any] = []


def register(collector: Collector) -> None:
    if collector not in _registered:
        _registered.append(collector)
        _registry.register(collector)


def registry() -> CollectorRegistry:
    return _registry
