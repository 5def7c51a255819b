"""Notifications API, mounted at /api/v1/c/notifications/ (namespace `notifications-api`)."""

from django.urls import path

from capabilities.notifications.api import views

urlpatterns = [
    path("rules/", views.RuleListCreate.as_view(), name="rule-list"),
    path("rules/<int:rule_id>", views.RuleDetail.as_view(), name="rule-detail"),
    path("rules/<int:rule_id>/test", views.RuleTestSend.as_view(), name="rule-test"),
    path("deliveries/", views.DeliveryList.as_view(), name="delivery-list"),
    path("deliveries/<int:delivery_id>", views.DeliveryDetail.as_view(), name="delivery-detail"),
]
