"""Every capability's figures at one moment, from the database (jobs, the
degraded state), the broker (messages waiting, workers consuming) and, for a
capability that runs as a service of its own, its health URL: what the IT
admin health page shows and /metrics exports. Bounded: two grouped job
queries, one on the degraded rows and one pipelined broker round trip,
whatever the number of capabilities; health URLs are probed in parallel and
their answers cached briefly."""

from __future__ import annotations

import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import urllib3
from django.core.cache import cache
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from capabilities import presence, queries
from capabilities.models import CapabilityHealth
from capabilities.registry import Capability, registry

logger = logging.getLogger(__name__)

# A service's health URL gets this long to answer, and its answer is reused
# this long (a page view or a scrape never waits on a slow service twice).
SERVICE_CHECK_TIMEOUT = 2.0
SERVICE_CHECK_CACHE = 30


@dataclass(frozen=True)
class ServiceCheck:
    """The answer of an external capability's health URL to one GET."""

    up: bool
    detail: str  # in words: "Answered 200 in 12 ms", "No answer within 2 s"
    seconds: float | None = None


@dataclass(frozen=True)
class CapabilityFigures:
    capability: Capability
    jobs: queries.CapabilityJobs
    degraded: CapabilityHealth | None
    messages: int | None  # waiting in the broker; None when the broker did not answer
    workers: list[str] | None  # consuming its queue; None when the broker did not answer
    service: ServiceCheck | None  # None: an app capability, run by the portal's own workers

    def oldest_age(self, now: datetime) -> float | None:
        """Seconds the oldest queued job has waited."""
        oldest = self.jobs.oldest_queued
        return max(0.0, (now - oldest).total_seconds()) if oldest else None


def health_url(capability: Capability) -> str:
    """The URL an external capability declares for its health check; app
    capabilities declare none."""
    return capability.health_url


def probe(url: str, timeout: float = SERVICE_CHECK_TIMEOUT) -> ServiceCheck:
    """GET `url` once, no retries or redirects: up on a 2xx answer in time."""
    started = time.monotonic()
    try:
        response = urllib3.request(
            "GET", url, timeout=urllib3.Timeout(total=timeout), retries=False, redirect=False
        )
    except urllib3.exceptions.NewConnectionError:  # before TimeoutError: urllib3 derives it from it
        return ServiceCheck(False, "Could not connect (nothing listens there, or it refused)")
    except urllib3.exceptions.TimeoutError:
        return ServiceCheck(False, f"No answer within {timeout:g} s")
    except urllib3.exceptions.HTTPError as error:
        return ServiceCheck(False, f"Could not connect ({type(error).__name__})")
    seconds = time.monotonic() - started
    return ServiceCheck(
        200 <= response.status < 300, f"Answered {response.status} in {seconds * 1000:.0f} ms", seconds
    )


def _cached_probe(url: str) -> ServiceCheck:
    key = f"capabilities:service-check:{url}"
    try:
        known = cache.get(key)
    except RedisError:
        known = None
    if known is not None:
        return ServiceCheck(**known)
    check = probe(url)
    with contextlib.suppress(RedisError):  # uncached: probed again next time
        cache.set(
            key, {"up": check.up, "detail": check.detail, "seconds": check.seconds}, SERVICE_CHECK_CACHE
        )
    return check


def service_checks(installed: list[Capability]) -> dict[str, ServiceCheck]:
    """The health checks of the capabilities that declare a URL, in parallel."""
    urls = {capability.key: health_url(capability) for capability in installed if health_url(capability)}
    if not urls:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        return dict(zip(urls, pool.map(_cached_probe, urls.values()), strict=True))


def broker_figures(queues: list[str]) -> tuple[dict[str, int] | None, dict[str, list[str]] | None]:
    try:
        return presence.queue_lengths(queues), presence.workers(queues)
    except (OperationalError, RedisError, OSError):
        logger.warning("The broker did not answer for queue depths and workers", exc_info=True)
        return None, None


def capability_figures(now: datetime) -> list[CapabilityFigures]:
    installed = list(registry())
    jobs = queries.capability_jobs(now)
    degraded = queries.degraded_capabilities()
    # External capabilities run no jobs here: no queue of theirs to ask about.
    queues = [capability.queue for capability in installed if not capability.external]
    lengths, consumers = broker_figures(queues)
    services = service_checks(installed)
    return [
        CapabilityFigures(
            capability=capability,
            jobs=jobs.get(capability.key, queries.CapabilityJobs()),
            degraded=degraded.get(capability.key),
            messages=None if lengths is None or capability.external else lengths[capability.queue],
            workers=None if consumers is None or capability.external else consumers[capability.queue],
            service=services.get(capability.key),
        )
        for capability in installed
    ]
