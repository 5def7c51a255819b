"""What a capability's job function sees. A job is a plain function
`job(ctx) -> dict` receiving a `JobContext`; `capabilities.runner.run_job` runs
it on the capability's own queue `cap.<key>`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string

from capabilities.models import Job
from capabilities.registry import registry
from portal.db import fetch_prepared

if TYPE_CHECKING:
    from portal.models import Organization


PROGRESS = """
    UPDATE capabilities_job SET progress_done = %s, progress_total = %s WHERE id = %s
    RETURNING set_config('synchronous_commit', 'off', true)
"""


class JobFailed(Exception):
    """Raise from a job function to fail the job with a message for its user."""


@dataclass
class JobContext:
    job: Job
    input: dict[str, Any]
    usage: dict[str, int] = field(default_factory=dict)
    # The last total reported, written or not: the job's result records it.
    progress_total: int = 0
    # When progress was last written (time.monotonic()); the job's start at first.
    progress_written: float = field(default_factory=time.monotonic)

    @property
    def organization_id(self) -> int:
        return self.job.organization_id

    def progress(self, done: int, total: int, *, every: float = 0.0) -> None:
        """Report progress; the job page's bar follows it. One prepared
        statement, committing on its own without waiting for the WAL flush
        (it says so itself): progress is redrawn by the next call if lost.

        With `every` (seconds), a call sooner than that after the job started
        or after the last write is not written: a job of many fast steps
        reports each and pays a write only every so often, and a job that
        finishes within `every` writes none (its result records the total)."""
        self.progress_total = max(0, total)
        if every and time.monotonic() - self.progress_written < every:
            return
        fetch_prepared(PROGRESS, [max(0, done), self.progress_total, self.job.pk])
        self.progress_written = time.monotonic()

    def meter(self, meter_key: str, quantity: int) -> None:
        """Count `quantity` units of the capability's meter `meter_key`. Units are
        recorded only if the job succeeds."""
        registry().get(self.job.capability).meter(meter_key)
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise TypeError("Usage quantities are whole numbers")
        self.usage[meter_key] = self.usage.get(meter_key, 0) + quantity


def job_function(capability_key: str, kind: str, version: str = "") -> Any:
    """The function of job kind `kind`, as version `version` of the capability
    declares it (its own declaration when the version does not change it)."""
    return import_string(registry().get(capability_key).job_kind(kind, version).function)


class JobInputInvalid(Exception):
    """The input sent for a job does not fit its kind's declaration."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items()))
        self.errors = errors


def clean_input(organization: Organization, capability_key: str, kind: str, data: object) -> dict[str, Any]:
    """Validate `data` as the input of a `kind` job of `capability_key` started
    for `organization` (by the API or a page) with the kind's input form, and
    return the job's input. Raises LookupError for an unknown kind and
    JobInputInvalid naming each field that is wrong, missing or unknown."""
    from capabilities.releases import running

    declaration = (
        registry().get(capability_key).job_kind(kind, running(organization, capability_key).version.number)
    )
    if not isinstance(data, dict):
        raise JobInputInvalid({"input": ['The input must be a JSON object, like {"pages": 3}.']})
    if not declaration.input:
        if data:
            raise JobInputInvalid({name: ["This job takes no input."] for name in sorted(data)})
        return {}
    form = import_string(declaration.input)(data=data, organization=organization)
    errors = {} if form.is_valid() else {name: list(messages) for name, messages in form.errors.items()}
    for name in sorted(set(data) - set(form.fields)):
        errors[name] = [f"Unknown field; {declaration.label} takes {', '.join(form.fields) or 'no input'}."]
    if errors:
        raise JobInputInvalid(errors)
    return form.job_input()
