"""Routes of the capabilities API, mounted under /api/v1/."""

from django.urls import path

from capabilities.api import events, schedules, views

urlpatterns = [
    path("capabilities/", views.CapabilityList.as_view(), name="capability-list"),
    path("capabilities/<slug:key>/toggle", views.CapabilityToggle.as_view(), name="capability-toggle"),
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
]
