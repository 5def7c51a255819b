"""URL routes of the tenancy API, mounted under /api/v1/."""

from django.urls import path

from portal.api import views

urlpatterns = [
    path("organizations/", views.OrganizationList.as_view(), name="organization-list"),
]
