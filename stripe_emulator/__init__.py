"""An offline, stateful emulator of the slice of Stripe's API that Switchboard uses.

Standard library only. Response shapes come from Stripe's published example objects
(``fixtures3.json``, MIT, from stripe/openapi; see ``FIXTURES_LICENSE``); behaviour follows
Stripe's API reference for customers, products, prices, billing meters, meter events,
subscriptions, invoices, events and webhooks.

Start it with ``python -m stripe_emulator [--state-file PATH]`` or, in tests,
``stripe_emulator.testing.running_emulator``.

Where it differs from Stripe (on purpose, or not known to match):

- State lives in memory, unless ``--state-file`` keeps it across restarts (``state_file``). Even
  then, meter events answered less than the save interval (0.5 s) before a kill -9 can be lost;
  the switches, their one-shots and the log of webhook attempts are not kept; deliveries still
  queued at shutdown are not resumed (the events are kept: ``/v1/events``, resend); hosted
  invoice URLs keep the address of the emulator that drew the invoice up.
- No $0 invoice when a subscription starts; licensed items are billed at the period's end;
  cancelling does not invoice the partial period; ``invoice_now`` is not supported.
- Invoices are drawn up exactly at the period's end (no hour of grace for late usage);
  usage counts if it arrived, and its consistency delay passed, when the clock moves.
- Deleted subscription items are not billed for the current period.
- Meter event values must be non-negative whole numbers.
- ``billing.meter.error_report_triggered`` is sent once per event with an unknown
  customer (Stripe batches them), as a snapshot event with ``data.reason`` beside
  ``data.object``.
- A silently dropped event leaves no trace, so a later retry with its identifier counts.
- Unknown parameters are ignored rather than refused.
- Idempotency replays stored 2xx and 4xx answers; 429s, injected faults and 5xx are not stored.
- Preview invoices have ids ``upcoming_in_…`` and lines ``il_tmp_…``.
- Webhook signatures are stamped with real time (the SDK's 300 s tolerance), events'
  ``created`` with the emulator's clock.
"""

from stripe_emulator.server import EmulatorServer, start_server

__all__ = ["EmulatorServer", "start_server"]
