"""Signals other apps (billing, notifications) listen to. Sent after the change has committed."""

from django.dispatch import Signal

# Sent with organization, capability_key, enabled, actor once a toggle change commits.
capability_toggled = Signal()

# Sent with job_id, organization_id, capability, kind and status ("succeeded",
# "failed", or "refused" when a worker refused a queued job because its
# capability was switched off or its organization suspended) once the job's
# outcome has committed, from the worker that took it.
# Receivers must not raise: the job is done whatever they do.
job_finished = Signal()


def announce_job_finished(
    *, job_id: int, organization_id: int, capability: str, kind: str, status: str
) -> None:
    """Send `job_finished` for a job whose outcome has committed (the runner's
    own outcomes and the sweep's failures alike)."""
    from capabilities.models import Job

    job_finished.send_robust(
        sender=Job,
        job_id=job_id,
        organization_id=organization_id,
        capability=capability,
        kind=kind,
        status=status,
    )
