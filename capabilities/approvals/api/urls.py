"""Routes of the capability requests API, mounted under /api/v1/."""

from django.urls import path

from capabilities.approvals.api import views

urlpatterns = [
    path("capability-requests/", views.CapabilityRequestList.as_view(), name="capability-request-list"),
    path(
        "capability-requests/<int:request_id>/approve",
        views.CapabilityRequestApprove.as_view(),
        name="capability-request-approve",
    ),
    path(
        "capability-requests/<int:request_id>/decline",
        views.CapabilityRequestDecline.as_view(),
        name="capability-request-decline",
    ),
]
