"""Routes of the usage API, mounted under /api/v1/."""

from django.urls import path

from metering.api import views

urlpatterns = [
    path("usage/", views.UsageReport.as_view(), name="usage-report"),
    path("usage/events/", views.UsageEventList.as_view(), name="usage-events"),
    path("budgets/", views.BudgetListCreate.as_view(), name="budget-list"),
    path("budgets/<int:budget_id>", views.BudgetDetail.as_view(), name="budget-detail"),
    path("usage/anomalies/", views.UsageAnomalyList.as_view(), name="usage-anomalies"),
]
