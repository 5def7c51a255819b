"""Usage pages: the organization's usage and budgets, and the finance dashboard."""

from django.urls import path

from metering import cap_views, views

urlpatterns = [
    path("usage/", views.usage, name="usage"),
    path("usage/export.csv", views.usage_export, name="usage_export"),
    path("usage/budgets/", views.budget_create, name="budget_create"),
    path("usage/budgets/<int:budget_id>/", views.budget_change, name="budget_change"),
    path("usage/budgets/<int:budget_id>/delete/", views.budget_delete, name="budget_delete"),
    path("usage/anomalies/hold/", views.anomaly_hold, name="usage_anomaly_hold"),
    path("finance/", views.finance, name="finance"),
    path("finance/export.csv", views.finance_export, name="finance_export"),
    path("finance/corrections/", views.corrections, name="finance_corrections"),
    path("finance/caps/", cap_views.finance_caps, name="finance_caps"),
]
