"""Pages of the contract tracker, mounted at /c/contracts/ (namespace `contracts`)."""

from django.urls import path

from capabilities.contracts import views

urlpatterns = [
    path("", views.index, name="index"),
    path("export.csv", views.export, name="export"),
    path("<int:contract_id>/", views.contract_detail, name="contract"),
    path("<int:contract_id>/correct/", views.correct, name="correct"),
]
