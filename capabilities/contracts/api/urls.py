"""Routes of the contract tracker API, mounted at /api/v1/c/contracts/ (namespace `contracts-api`)."""

from django.urls import path

from capabilities.contracts.api import views

urlpatterns = [
    path("contracts/", views.ContractList.as_view(), name="contract-list"),
    path("contracts/<int:contract_id>/", views.ContractDetail.as_view(), name="contract-detail"),
]
