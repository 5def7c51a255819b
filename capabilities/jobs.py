"""What a capability's job function sees. A job is a plain function
`job(ctx) -> dict` receiving a `JobContext`; `capabilities.tasks.run_job` runs
it on the capability's own queue `cap.<key>`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.module_loading import import_string

from capabilities.models import Job
from capabilities.registry import registry


class JobFailed(Exception):
    """Raise from a job function to fail the job with a message for its user."""


@dataclass
class JobContext:
    job: Job
    input: dict[str, Any]
    usage: dict[str, int] = field(default_factory=dict)

    @property
    def organization_id(self) -> int:
        return self.job.organization_id

    def progress(self, done: int, total: int) -> None:
        """Report progress; the job page's bar follows it."""
        from capabilities.tasks import relax_durability

        with transaction.atomic():
            relax_durability()  # progress is redrawn by the next call if lost
            Job.objects.filter(pk=self.job.pk).update(
                progress_done=max(0, done), progress_total=max(0, total)
            )

    def meter(self, meter_key: str, quantity: int) -> None:
        """Count `quantity` units of the capability's meter `meter_key`. Units are
        recorded only if the job succeeds."""
        registry().get(self.job.capability).meter(meter_key)
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise TypeError("Usage quantities are whole numbers")
        self.usage[meter_key] = self.usage.get(meter_key, 0) + quantity


def job_function(capability_key: str, kind: str) -> Any:
    capability = registry().get(capability_key)
    try:
        return import_string(capability.job_kinds[kind])
    except KeyError:
        raise LookupError(f"{capability.title} has no job kind {kind!r}") from None
