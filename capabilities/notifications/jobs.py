"""The `deliver` job: one attempt at sending one delivery."""

from __future__ import annotations

from typing import Any

from capabilities.job_context import JobContext, JobFailed
from capabilities.notifications import actions, channels
from capabilities.notifications.models import Channel, Delivery


def _email(delivery: Delivery) -> tuple[str, str]:
    payload = delivery.payload
    capability = (payload.get("capability") or {}).get("name", "")
    job = payload.get("job")
    contract = payload.get("contract")
    if contract:
        days = contract.get("days_left")
        subject = f"[Switchboard] Notice deadline in {days} days: {contract.get('document_name')}"
        body = (
            f"The notice deadline of “{contract.get('document_name')}” is {contract.get('notice_deadline')}, "
            f"{days} days from today: give notice by then, or the contract renews.\n"
            f"See it in {capability}: {contract.get('url')}\n"
        )
        return subject, body
    if not job:
        subject = f"[Switchboard] Test notification for {capability}"
        body = (
            f"This is a test of a notification rule of {payload.get('organization', '')}: "
            f"when a {capability} job finishes, this address is told.\n"
        )
        return subject, body
    outcome = "succeeded" if job.get("status") == "succeeded" else "failed"
    subject = f"[Switchboard] {capability} job #{job.get('id')} {outcome}"
    lines = [
        f"The {capability} job #{job.get('id')} ({job.get('kind')}) {outcome}.",
        f"Finished: {job.get('finished_at')}",
    ]
    if job.get("error"):
        lines.append(f"Error: {job['error']}")
    return subject, "\n".join(lines) + "\n"


def _send(delivery: Delivery, secret: str) -> channels.Outcome:
    if delivery.channel == Channel.EMAIL:
        subject, body = _email(delivery)
        return channels.send_email(delivery.target, subject, body)
    return channels.post_webhook(
        delivery.target,
        secret,
        {**delivery.payload, "delivery": delivery.pk},
        delivery_id=delivery.pk,
        event=delivery.event,
    )


def deliver(ctx: JobContext) -> dict[str, Any]:
    try:
        delivery_id = int(ctx.input["delivery"])
        attempt = int(ctx.input["attempt"])
    except (KeyError, TypeError, ValueError):
        raise JobFailed("A deliver job needs a delivery id and an attempt number.") from None
    claim = actions.claim_attempt(ctx.organization_id, delivery_id, attempt, ctx.job.pk)
    if claim is None:
        # Another job made this attempt, or the delivery is finished: nothing
        # sent, nothing billed.
        return {"delivery": delivery_id, "attempt": attempt, "sent": False}
    delivery = claim.delivery
    if claim.already_delivered:
        ctx.meter(delivery.meter, 1)
        return {"delivery": delivery.pk, "attempt": attempt, "sent": True}
    if claim.secret is None:
        actions.give_up(delivery, "The rule was deleted before this attempt.")
        raise JobFailed("The notification rule was deleted; the message was not sent.")
    outcome = _send(delivery, claim.secret)
    delivery = actions.record_attempt(delivery, attempt, ctx.job.pk, outcome)
    if outcome.delivered:
        ctx.meter(delivery.meter, 1)
        return {"delivery": delivery.pk, "attempt": attempt, "sent": True, "status_code": outcome.status_code}
    if delivery.status == Delivery.Status.RETRYING:
        raise JobFailed(
            f"Attempt {attempt} of {actions.max_attempts()} failed: {outcome.error} "
            f"Next attempt at {delivery.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC."
        )
    raise JobFailed(f"Attempt {attempt} failed: {outcome.error} Not retried; the message was not delivered.")
