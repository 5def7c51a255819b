"""Celery tasks of the tenancy app, run by a real worker process on Redis."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from portal.models import AuditEntry, Invitation
from portal.tasks import HEARTBEAT_KEY, expire_invitations, record_heartbeat
from tests.factories import InvitationFactory
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_logs_lapsed_invitations_once(acme, alice):
    lapsed = InvitationFactory(
        organization=acme,
        invited_by=alice,
        email="late@acme.test",
        expires_at=timezone.now() - timedelta(hours=1),
    )
    live = InvitationFactory(organization=acme, invited_by=alice, email="soon@acme.test")

    with celery_worker():
        expire_invitations.delay()
        wait_for(
            lambda: Invitation.objects.get(pk=lapsed.pk).expired_noted_at is not None,
            60,
            "the worker to note the lapsed invitation",
        )
        # A second run finds nothing new to log.
        expire_invitations.delay()
        record_heartbeat.delay()
        wait_for(lambda: cache.get(HEARTBEAT_KEY) is not None, 60, "the heartbeat")

    assert Invitation.objects.get(pk=live.pk).expired_noted_at is None
    entries = AuditEntry.objects.filter(action="invitation.expired")
    assert [entry.target_id for entry in entries] == [str(lapsed.pk)]
    assert entries.get().organization == acme


def test_heartbeat_runs_on_the_worker(db):
    cache.delete(HEARTBEAT_KEY)
    with celery_worker():
        record_heartbeat.delay()
        wait_for(lambda: cache.get(HEARTBEAT_KEY) is not None, 60, "the heartbeat")
    stamp = cache.get(HEARTBEAT_KEY)
    assert timezone.datetime.fromisoformat(stamp) <= timezone.now()
