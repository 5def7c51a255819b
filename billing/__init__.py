"""Stripe metered billing: the price book, sync of customers, meters, prices
and subscriptions, the periodic usage push, reconciliation, webhooks and
invoices. Only `billing.stripe_gateway` talks to Stripe (DESIGN.md)."""
