"""Scheduling a capability's switch and cancelling it: from the capability's
page (owners and admins) and from an organization's capabilities page under
/manage/ (IT admins)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from capabilities import schedules
from capabilities.forms import ScheduleForm
from capabilities.models import ScheduledSwitch
from capabilities.registry import registry
from capabilities.views import _installed, capability_choices, render_capability_page
from portal.access import AuthenticatedRequest, OrgRequest, get_for_org, org_role_required, platform_required
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.models import MANAGING_ROLES, Organization


def _scheduled_message(schedule: ScheduledSwitch) -> str:
    title = registry().get(schedule.capability_key).title
    state = "on" if schedule.enabled else "off"
    return f"{title} will be switched {state} at {schedules.moment_text(schedule)}."


def _first_error(form: ScheduleForm) -> str:
    return next(str(error) for errors in form.errors.values() for error in errors)


@org_role_required(*MANAGING_ROLES)
@require_POST
def schedule_switch(request: OrgRequest, key: str) -> HttpResponse:
    """Schedule `key`'s switch; a refusal re-renders the page with the form's error (400)."""
    _installed(key)
    form = ScheduleForm(request.POST)
    if form.is_valid():
        try:
            schedule = schedules.schedule_switch(
                request.user,
                request.organization,
                key,
                enabled=form.cleaned_data["enabled"],
                at=form.cleaned_data["at"],
                end_of_period=form.cleaned_data["when"] == "end_of_period",
                time_zone=form.cleaned_data["time_zone"],
                include_related=form.cleaned_data["include_related"],
                reason=form.cleaned_data["reason"],
                origin=origin_of(request),
            )
        except ActionError as refusal:
            form.add_error("at" if refusal.code.startswith("moment") else None, refusal.message)
        else:
            messages.success(request, _scheduled_message(schedule))
            return redirect("capability", key=key)
    return render_capability_page(request, key, schedule_form=form, status=400)


@org_role_required(*MANAGING_ROLES)
@require_POST
def cancel_schedule(request: OrgRequest, key: str, schedule_id: int) -> HttpResponse:
    _installed(key)
    schedule = get_for_org(request, ScheduledSwitch.objects.filter(capability_key=key), pk=schedule_id)
    try:
        schedules.cancel_schedule(request.user, schedule, origin=origin_of(request))
    except ActionError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, "The scheduled switch is cancelled.")
    return redirect("capability", key=key)


@platform_required()
@require_POST
def manage_schedule(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    """An IT admin schedules a switch for the organization (not forced: locks
    and the dependency rule apply as when the organization switches)."""
    organization = get_object_or_404(Organization, slug=slug)
    form = ScheduleForm(request.POST, capabilities=capability_choices())
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect("manage:capabilities", slug=slug)
    try:
        schedule = schedules.schedule_switch(
            request.user,
            organization,
            form.cleaned_data["capability"],
            enabled=form.cleaned_data["enabled"],
            at=form.cleaned_data["at"],
            end_of_period=form.cleaned_data["when"] == "end_of_period",
            time_zone=form.cleaned_data["time_zone"],
            include_related=form.cleaned_data["include_related"],
            reason=form.cleaned_data["reason"],
            origin=origin_of(request),
        )
    except ActionError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"For {organization.name}: {_scheduled_message(schedule)}")
    return redirect("manage:capabilities", slug=slug)


@platform_required()
@require_POST
def manage_cancel_schedule(request: AuthenticatedRequest, slug: str, schedule_id: int) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=slug)
    schedule = get_object_or_404(ScheduledSwitch, organization=organization, pk=schedule_id)
    try:
        schedules.cancel_schedule(request.user, schedule, origin=origin_of(request))
    except ActionError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"The scheduled switch for {organization.name} is cancelled.")
    return redirect("manage:capabilities", slug=slug)
