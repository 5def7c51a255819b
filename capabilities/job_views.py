"""Jobs pages: start a job from a capability's page, the jobs list with
filters, and a job's page with a live progress bar (htmx polling)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.module_loading import import_string
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from capabilities import actions
from capabilities.filtersets import JobFilter
from capabilities.models import Job
from capabilities.registry import registry
from capabilities.tables import JobTable
from capabilities.views import _installed, job_forms, render_capability_page
from metering.models import UsageEvent
from metering.queries.anomalies import held_capabilities
from portal.access import OrgRequest, get_for_org, org_role_required
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.htmx import page_or_partial
from portal.models import USING_ROLES, Role


@org_role_required(*USING_ROLES)
@require_POST
def start_job(request: OrgRequest, key: str) -> HttpResponse:
    """Start a job of a kind a person starts by hand, from its form on the
    capability's page. A form with errors comes back on that page, marked."""
    _installed(key)
    capability = registry().get(key)
    kind = request.POST.get("kind", "")
    starters = {starter.kind: starter for starter in job_forms(request, key)}
    if kind not in starters:
        messages.error(request, f"{capability.title} has no job that starts here.")
        return redirect("capability", key=key)
    form = None
    job_input: dict = {}
    declaration = capability.job_kind(kind)
    if declaration.input:
        form = import_string(declaration.input)(request.POST, organization=request.organization, prefix=kind)
        if not form.is_valid():
            return render_capability_page(request, key, bound=form, status=400)
        job_input = form.job_input()
    try:
        job = actions.start_job(request.user, request.organization, key, kind=kind, job_input=job_input)
    except ActionError as refusal:
        messages.error(request, refusal.message)
        return redirect("capability", key=key)
    if job.status == Job.Status.HELD:
        messages.warning(
            request,
            f"Job #{job.pk} is held: {capability.title} is on hold after unusual usage, "
            "so it waits until an owner releases it. Nothing is lost.",
        )
    else:
        messages.success(request, f"Job #{job.pk} is queued.")
    return redirect("job", job_id=job.pk)


@org_role_required()
def job_list(request: OrgRequest) -> HttpResponse:
    jobs = Job.objects.filter(organization=request.organization).select_related("requested_by")
    filterset = JobFilter(request.GET or None, queryset=jobs)
    table = JobTable(filterset.qs)
    RequestConfig(request, paginate={"per_page": 25}).configure(table)
    template = page_or_partial(request, "capabilities/jobs.html", "job-table")
    context = {
        "filter": filterset,
        "table": table,
        "has_jobs": jobs.exists(),
        "held": held_capabilities(request.organization),
        "is_owner": request.membership.role == Role.OWNER,
    }
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@org_role_required()
def job_detail(request: OrgRequest, job_id: int) -> HttpResponse:
    job = get_for_org(request, Job.objects.select_related("requested_by"), pk=job_id)
    usage = UsageEvent.objects.filter(organization=request.organization, job_id=job.pk).order_by("meter")
    capability = registry().known(job.capability)
    context = {
        "job": job,
        "job_version_is_beta": capability is not None and capability.is_beta(job.version),
        "usage": usage,
        "capability": registry().get(job.capability) if job.capability in registry() else None,
        "can_cancel": job.status in (Job.Status.QUEUED, Job.Status.HELD)
        and request.membership.role in USING_ROLES,
        "is_owner": request.membership.role == Role.OWNER,
    }
    template = page_or_partial(request, "capabilities/job.html", "job-status")
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@org_role_required(*USING_ROLES)
@require_POST
def cancel_job(request: OrgRequest, job_id: int) -> HttpResponse:
    job = get_for_org(request, Job.objects.all(), pk=job_id)
    try:
        actions.cancel_job(request.user, job, origin=origin_of(request))
    except ActionError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"Job #{job.pk} is cancelled; nothing was billed.")
    return redirect("job", job_id=job.pk)


@org_role_required(Role.OWNER)
@require_POST
def release_held_jobs(request: OrgRequest, key: str) -> HttpResponse:
    """An owner confirms a capability held after a usage spike: its held jobs
    queue normally. Back to where the button was (the usage page or jobs)."""
    _installed(key)
    try:
        released = actions.release_held_jobs(
            request.user, request.organization, key, origin=origin_of(request)
        )
    except ActionError as refusal:
        messages.error(request, refusal.message)
    else:
        title = registry().get(key).title
        jobs = "1 held job is" if released == 1 else f"{released} held jobs are"
        messages.success(request, f"{title} is no longer held; {jobs} queued.")
    back = request.POST.get("next", "")
    return redirect(back if back in ("/usage/", "/jobs/") else "usage")
