"""The one place the demo calls the offline Stripe emulator's control API
(`/_emulator/...`: its clock, its payment switches), and only when
`STRIPE_API_BASE` points at an emulator that answers it. Stripe itself has no
such API: against it the demo leaves Stripe's side alone."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from stripe_emulator.testing import EmulatorHandle

# What the emulator's state counts as objects (see stripe_emulator.control.state).
OBJECT_COUNTS = ("customers", "products", "prices", "meters", "subscriptions", "invoices", "events")


class Emulator:
    def __init__(self, url: str) -> None:
        self._handle = EmulatorHandle(url)

    @classmethod
    def at_api_base(cls) -> Emulator | None:
        """The emulator `STRIPE_API_BASE` points at, or None when it is unset
        or doesn't answer as the emulator."""
        if not settings.STRIPE_API_BASE:
            return None
        emulator = cls(settings.STRIPE_API_BASE)
        try:
            emulator._handle.now()
        except (OSError, RuntimeError, ValueError, KeyError):
            return None
        return emulator

    @property
    def url(self) -> str:
        return self._handle.url

    def holds_objects(self) -> bool:
        """Anything created or received yet: then its clock can no longer go back."""
        state = self._handle.state()
        return any(state[name] for name in OBJECT_COUNTS) or any(state["meter_events"].values())

    def set_clock(self, moment: datetime) -> None:
        """Move the emulator's clock to `moment`: back only while it holds
        nothing; forward, it closes the periods that end on the way."""
        self._handle.set_clock(moment.timestamp())

    def decline_payments(self, customer_id: str) -> None:
        """From now on, the customer's card is declined (its invoices' payments fail)."""
        self._handle.fail_payments(customer_id, True)
