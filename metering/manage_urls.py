"""Platform caps on a tenant, mounted in the /manage/ namespace by the root URLconf."""

from django.urls import path

from metering import cap_views

urlpatterns = [
    path("organizations/<slug:slug>/caps/", cap_views.tenant_caps, name="caps"),
    path("organizations/<slug:slug>/caps/<int:budget_id>/", cap_views.tenant_cap_change, name="cap_change"),
    path(
        "organizations/<slug:slug>/caps/<int:budget_id>/delete/",
        cap_views.tenant_cap_delete,
        name="cap_delete",
    ),
]
