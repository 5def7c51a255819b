"""Billing pages: the organization's billing page, finance's price book,
reconciliation and Stripe events, and the Stripe webhook endpoint."""

from django.urls import path

from billing import views

urlpatterns = [
    path("billing/", views.billing, name="billing"),
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
    path("finance/prices/", views.prices, name="billing_prices"),
    path("finance/reconciliations/", views.reconciliations, name="billing_reconciliations"),
    path("finance/reconciliations/<int:run_id>/", views.reconciliation, name="billing_reconciliation"),
    path(
        "finance/reconciliations/<int:run_id>/export.csv",
        views.reconciliation_export,
        name="billing_reconciliation_export",
    ),
    path("finance/stripe-events/", views.stripe_events, name="billing_events"),
]
