"""The IT admin's approval rule on a tenant, mounted in the /manage/ namespace by the root URLconf."""

from django.urls import path

from capabilities.approvals import views

urlpatterns = [
    path("organizations/<slug:slug>/approvals/", views.tenant_approvals, name="approvals"),
]
