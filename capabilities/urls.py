"""Catalog and toggle routes, and the mount points of every capability app's
own pages (`/c/<key>/…`, namespace `<key>`), derived from the registry."""

from importlib import import_module
from importlib.util import find_spec

from django.urls import URLPattern, URLResolver, include, path

from capabilities import job_views, release_views, schedule_views, views
from capabilities.ofrep import urls as ofrep_urls
from capabilities.registry import app_registry

urlpatterns = [
    path("", views.catalog, name="home"),
    path("capabilities/<slug:key>/", views.capability_detail, name="capability"),
    path("capabilities/<slug:key>/toggle/", views.toggle, name="capability_toggle"),
    path("capabilities/<slug:key>/jobs/", job_views.start_job, name="job_start"),
    path("capabilities/<slug:key>/release/", job_views.release_held_jobs, name="capability_release"),
    path("capabilities/<slug:key>/channel/", release_views.choose_channel, name="capability_channel"),
    path("capabilities/<slug:key>/schedules/", schedule_views.schedule_switch, name="capability_schedule"),
    path(
        "capabilities/<slug:key>/schedules/<int:schedule_id>/cancel/",
        schedule_views.cancel_schedule,
        name="capability_schedule_cancel",
    ),
    path("jobs/", job_views.job_list, name="jobs"),
    path("jobs/<int:job_id>/", job_views.job_detail, name="job"),
    path("jobs/<int:job_id>/cancel/", job_views.cancel_job, name="job_cancel"),
]

# Flags over OFREP, at the root (the protocol fixes the paths).
ofrep_urlpatterns = ofrep_urls.urlpatterns

manage_urlpatterns: list[URLPattern | URLResolver] = [
    path("organizations/<slug:slug>/capabilities/", views.manage_toggles, name="capabilities"),
    path("organizations/<slug:slug>/capabilities/<slug:key>/", views.manage_force, name="capability_force"),
    path(
        "organizations/<slug:slug>/capabilities/<slug:key>/version/",
        release_views.manage_pin,
        name="capability_pin",
    ),
    path("organizations/<slug:slug>/schedules/", schedule_views.manage_schedule, name="schedule_create"),
    path(
        "organizations/<slug:slug>/schedules/<int:schedule_id>/cancel/",
        schedule_views.manage_cancel_schedule,
        name="schedule_cancel",
    ),
    # External capabilities (capabilities/services.py)
    path("capabilities/", include("capabilities.manage_urls")),
]


def _module_patterns(module_name: str) -> list[URLPattern | URLResolver] | None:
    if find_spec(module_name) is None:
        return None
    return import_module(module_name).urlpatterns


def capability_page_patterns() -> list[URLResolver]:
    """`/c/<key>/` for each capability app that has a `urls` module."""
    patterns = []
    for capability in app_registry().apps():
        module = _module_patterns(capability.urls_module())
        if module is not None:
            patterns.append(
                path(f"c/{capability.key}/", include((module, capability.key), namespace=capability.key))
            )
    return patterns


def capability_api_patterns() -> list[URLResolver]:
    """`/api/v1/c/<key>/` (namespace `<key>-api`) for each capability app that has an `api.urls` module."""
    patterns = []
    for capability in app_registry().apps():
        try:
            module = _module_patterns(capability.api_urls_module())
        except ModuleNotFoundError:
            module = None
        if module is not None:
            patterns.append(
                path(
                    f"c/{capability.key}/",
                    include((module, f"{capability.key}-api"), namespace=f"{capability.key}-api"),
                )
            )
    return patterns
