"""The quickstart's demo: `manage.py seed_demo` builds a believable history
(people, toggles, usage, Stripe's invoices, sample content, a reconciliation)
through the portal's own code. Quickstart only; above billing in the layers."""
