"""Usage pages: the organization's usage and the finance dashboard."""

from django.urls import path

from metering import views

urlpatterns = [
    path("usage/", views.usage, name="usage"),
    path("usage/export.csv", views.usage_export, name="usage_export"),
    path("usage/anomalies/hold/", views.anomaly_hold, name="usage_anomaly_hold"),
    path("finance/", views.finance, name="finance"),
    path("finance/export.csv", views.finance_export, name="finance_export"),
    path("finance/corrections/", views.corrections, name="finance_corrections"),
]
