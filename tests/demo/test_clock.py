"""The demo's clock: inside a Timeline the portal's now (and every model
default that reads it) is the timeline's moment, it only goes forward, and
outside it nothing is changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from demo.clock import Timeline, real_now
from portal.models import AuditEntry

START = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)


def test_the_portal_reads_the_timelines_moment_and_model_defaults_too():
    with Timeline(START) as timeline:
        assert START <= timezone.now() < START + timedelta(minutes=1)
        assert START <= AuditEntry().at < START + timedelta(minutes=1)  # default=timezone.now
        timeline.move_to(START + timedelta(days=3))
        assert timezone.now() >= START + timedelta(days=3)
        assert isinstance(timezone.now(), datetime)
        assert timezone.localtime(timezone.now()).tzinfo is not None
    assert timezone.now() > START + timedelta(days=30)  # the machine's clock again
    assert abs(timezone.now() - real_now()) < timedelta(minutes=1)


def test_the_timeline_never_goes_back():
    with Timeline(START) as timeline, pytest.raises(ValueError, match="only goes forward"):
        timeline.move_to(START - timedelta(hours=1))
