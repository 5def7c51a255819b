"""OFREP's routes, mounted at the root by portal.urls (`/ofrep/v1/...`, the
paths the protocol fixes; outside our `/api/v1`)."""

from django.urls import path

from capabilities.ofrep import views

urlpatterns = [
    path("ofrep/v1/evaluate/flags/<str:key>", views.evaluate_flag, name="ofrep_evaluate_flag"),
    path("ofrep/v1/evaluate/flags", views.evaluate_flags, name="ofrep_evaluate_flags"),
    path("ofrep/v1/configuration", views.configuration, name="ofrep_configuration"),
]
