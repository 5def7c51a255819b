"""Routes of capability requests and the approval limit, at the portal's root."""

from django.urls import path

from capabilities.approvals import views

urlpatterns = [
    path("requests/", views.capability_requests, name="capability_requests"),
    path("requests/new/", views.new_request, name="capability_request_new"),
    path("requests/<int:request_id>/approve/", views.approve, name="capability_request_approve"),
    path("requests/<int:request_id>/decline/", views.decline, name="capability_request_decline"),
    path("settings/approvals/", views.approval_settings, name="approval_settings"),
]
