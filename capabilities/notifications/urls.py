"""Pages of notifications, mounted at /c/notifications/ (namespace `notifications`)."""

from django.urls import path

from capabilities.notifications import views

urlpatterns = [
    path("", views.index, name="index"),
    path("rules/new", views.rule_create, name="rule_create"),
    path("rules/<int:rule_id>/delete", views.rule_delete, name="rule_delete"),
    path("rules/<int:rule_id>/test", views.rule_test, name="rule_test"),
    path("deliveries/", views.deliveries, name="deliveries"),
    path("deliveries/<int:delivery_id>/", views.delivery, name="delivery"),
]
