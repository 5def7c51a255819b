"""Routes of the billing API, mounted under /api/v1/."""

from django.urls import path

from billing.api import views

urlpatterns = [
    path("billing/reconciliations/", views.ReconciliationList.as_view(), name="billing-reconciliations"),
    path(
        "billing/reconciliations/<int:pk>",
        views.ReconciliationDetail.as_view(),
        name="billing-reconciliation",
    ),
]
