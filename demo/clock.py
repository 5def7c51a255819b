"""The demo's clock: while the history is replayed, the portal's "now" is a
moment of that history.

The portal reads the time through `django.utils.timezone.now()`, and so do the
model fields whose default is `timezone.now` (they hold the function, which
reads the module's `datetime` when called). Inside `Timeline`, that `datetime`
is a subclass whose `now()` answers the timeline's moment, ticking at real
speed from where it was last moved; so the toggle history, the ledger's
`recorded_at`, jobs, pushes, webhook records and audit entries all say when in
the history they happened, through the code that writes them every day.
Outside the timeline nothing is changed. The emulator's clock, if there is one,
moves with it (`demo.emulator`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, tzinfo
from types import TracebackType
from typing import Any

from django.utils import timezone as django_timezone

from demo.emulator import Emulator


def real_now() -> datetime:
    """The machine's clock, whatever the timeline says."""
    return datetime.now(UTC)


class _SimulatedMeta(type):
    # `isinstance(value, datetime)` in django.utils.timezone must keep
    # answering for real datetimes while the name points at the subclass.
    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, datetime)


class Timeline:
    """`with Timeline(start, emulator) as timeline: ... timeline.move_to(later)`."""

    def __init__(self, start: datetime, emulator: Emulator | None = None) -> None:
        self.emulator = emulator
        self._moment = start
        self._moved_at = time.monotonic()
        self._original: type[datetime] | None = None

    def now(self) -> datetime:
        """The timeline's moment: where it was last moved, plus the real time since."""
        return self._moment + timedelta(seconds=time.monotonic() - self._moved_at)

    def move_to(self, moment: datetime) -> None:
        """Go forward to `moment` (the emulator too); never back."""
        if moment < self.now():
            raise ValueError(f"The demo's timeline only goes forward ({moment} is past {self.now()})")
        self._moment, self._moved_at = moment, time.monotonic()
        if self.emulator is not None:
            self.emulator.set_clock(moment)

    def __enter__(self) -> Timeline:
        timeline = self

        class SimulatedDatetime(datetime, metaclass=_SimulatedMeta):
            @classmethod
            def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
                moment = timeline.now()
                return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

        self._original = django_timezone.datetime  # type: ignore[attr-defined]
        django_timezone.datetime = SimulatedDatetime  # type: ignore[attr-defined,misc]
        if self.emulator is not None:
            self.emulator.set_clock(self._moment)
        self._moved_at = time.monotonic()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._original is not None:
            django_timezone.datetime = self._original  # type: ignore[attr-defined,misc]
            self._original = None
