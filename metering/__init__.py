"""Usage metering: the append-only usage ledger, hourly rollups, usage queries,
and the usage pages and API."""
