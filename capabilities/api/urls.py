"""Routes of the capabilities API, mounted under /api/v1/."""

from django.urls import path

from capabilities.api import events, schedules, services, views

urlpatterns = [
    path("capabilities/", views.CapabilityList.as_view(), name="capability-list"),
    path("capabilities/<slug:key>/toggle", views.CapabilityToggle.as_view(), name="capability-toggle"),
    path("capabilities/<slug:key>/channel", views.CapabilityChannel.as_view(), name="capability-channel"),
    path("capabilities/<slug:key>/history", views.CapabilityHistory.as_view(), name="capability-history"),
    path(
        "capabilities/<slug:key>/schedules",
        schedules.CapabilitySchedules.as_view(),
        name="capability-schedules",
    ),
    path(
        "capabilities/<slug:key>/schedules/<int:schedule_id>",
        schedules.CapabilityScheduleDetail.as_view(),
        name="capability-schedule",
    ),
    path("jobs/", views.JobListCreate.as_view(), name="job-list"),
    path("jobs/<int:job_id>", views.JobDetail.as_view(), name="job-detail"),
    path("jobs/<int:job_id>/cancel", views.JobCancel.as_view(), name="job-cancel"),
    path("events", events.EventIngest.as_view(), name="event-ingest"),
    # External capabilities (IT admins)
    path("manage/capabilities/", services.ServiceList.as_view(), name="service-list"),
    path("manage/capabilities/<slug:key>", services.ServiceDetail.as_view(), name="service-detail"),
    path("manage/capabilities/<slug:key>/retire", services.ServiceRetire.as_view(), name="service-retire"),
    path(
        "manage/capabilities/<slug:key>/credentials",
        services.CredentialList.as_view(),
        name="service-credential-list",
    ),
    path(
        "manage/capabilities/<slug:key>/credentials/<str:prefix>",
        services.CredentialDetail.as_view(),
        name="service-credential-detail",
    ),
    path(
        "manage/capabilities/<slug:key>/credentials/<str:prefix>/rotate",
        services.CredentialRotate.as_view(),
        name="service-credential-rotate",
    ),
]
