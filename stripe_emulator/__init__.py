"""An offline, stateful emulator of the slice of Stripe's API that Switchboard uses.

Standard library only. Response shapes come from Stripe's published example objects
(``fixtures3.json``, MIT, from stripe/openapi; see ``FIXTURES_LICENSE``); behaviour follows
Stripe's API reference for customers, products, prices, billing meters, meter events,
subscriptions, invoices, events and webhooks.

Start it with ``python -m stripe_emulator`` or, in tests, ``stripe_emulator.testing.running_emulator``.
"""

from stripe_emulator.server import EmulatorServer, start_server

__all__ = ["EmulatorServer", "start_server"]
