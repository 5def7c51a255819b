"""Signals other apps (billing, notifications) listen to. Sent after the change has committed."""

from datetime import date

from django.dispatch import Signal

# Sent with organization, capability_key, enabled, actor once a toggle change commits.
capability_toggled = Signal()

# Sent with organization, capability_key, from_version, to_version, actor once a
# change of the release an organization runs (a channel switch, a pin) commits.
release_changed = Signal()

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


# Sent with organization_id, capability (the key of the capability that tracks
# the contract), contract_id, document_name, notice_deadline (a date),
# days_left and url (the contract's page, a path) by the daily deadline check
# while a contract's notice deadline (the last day to cancel before it renews)
# is near: at most once a day per contract and deadline. Listeners decide how
# near is near (days_left). Receivers must not raise.
contract_deadline_near = Signal()


def announce_contract_deadline(
    *,
    organization_id: int,
    capability: str,
    contract_id: int,
    document_name: str,
    notice_deadline: date,
    days_left: int,
    url: str,
) -> None:
    """Send `contract_deadline_near` (see above)."""
    contract_deadline_near.send_robust(
        sender=None,
        organization_id=organization_id,
        capability=capability,
        contract_id=contract_id,
        document_name=document_name,
        notice_deadline=notice_deadline,
        days_left=days_left,
        url=url,
    )
