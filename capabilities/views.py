"""Catalog, capability pages and the toggle flow (htmx), plus the IT admin's
per-tenant toggle page."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.http import require_POST

from capabilities import actions, queries, schedules
from capabilities.approvals import queries as approval_queries
from capabilities.approvals import views as approval_views
from capabilities.approvals.policy import approval_needed
from capabilities.forms import ForceForm, JobInputForm, ScheduleForm, ToggleForm
from capabilities.models import Job, ReleaseChange
from capabilities.registry import Capability, registry
from metering import budgets
from portal.access import AuthenticatedRequest, OrgRequest, org_role_required, platform_required
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.htmx import wants_partial
from portal.models import MANAGING_ROLES, USING_ROLES, Organization

# Billing users read usage and invoices; they don't run jobs.


@dataclass(frozen=True)
class JobStarter:
    """A job kind a person starts from the capability's page, with its form."""

    kind: str
    label: str
    form: JobInputForm | None


def _installed(key: str) -> None:
    if key not in registry():
        raise Http404("No such capability")


@org_role_required()
def catalog(request: OrgRequest) -> HttpResponse:
    entries = queries.catalog(request.organization)
    return render(
        request,
        "capabilities/catalog.html",
        {
            "entries": entries,
            "can_toggle": request.membership.can_manage,
            "enabled_count": sum(e.enabled for e in entries),
            "scheduled": schedules.pending_by_capability(request.organization),
            **_approval_context(request.organization),
        },
    )


def _approval_context(organization: Organization) -> dict[str, object]:
    """The catalog's and capability page's view of requests (the cached
    approval state: no query on a warm page): what is asked for already, and
    whether a switch-on asks first (the policy may turn it into a request)."""
    state = approval_queries.state(organization)
    return {"requested": state.requested_on(timezone.now()), "switch_on_asks_first": state.policy_active}


@org_role_required()
def capability_detail(request: OrgRequest, key: str) -> HttpResponse:
    _installed(key)
    return render_capability_page(request, key)


def job_forms(request: OrgRequest, key: str, bound: JobInputForm | None = None) -> list[JobStarter]:
    """The forms of the job kinds a person starts from `key`'s page (none for
    a billing member); `bound` replaces its kind's empty form (with errors)."""
    if request.membership.role not in USING_ROLES:
        return []
    starters = []
    for kind, declaration in registry().get(key).kinds_by_hand:
        if bound is not None and bound.prefix == kind:
            form = bound
        elif declaration.input:
            form = import_string(declaration.input)(organization=request.organization, prefix=kind)
        else:
            form = None
        starters.append(JobStarter(kind, declaration.label, form))
    return starters


def _kind_label(capability: Capability, kind: str) -> str:
    try:
        return capability.job_kind(kind).label
    except LookupError:  # a kind the app no longer declares
        return kind


def render_capability_page(
    request: OrgRequest,
    key: str,
    *,
    bound: JobInputForm | None = None,
    schedule_form: ScheduleForm | None = None,
    status: int = 200,
) -> HttpResponse:
    capability = registry().get(key)
    entry = queries.catalog_entry(request.organization, key)
    return render(
        request,
        "capabilities/detail.html",
        {
            "entry": entry,
            "history": queries.history(request.organization, key)[:100],
            "release_history": ReleaseChange.objects.filter(
                organization=request.organization, capability_key=key
            ).order_by("-at", "-id")[:50],
            "schedules": schedules.for_capability(request.organization, key),
            # The form proposes the switch the capability does not have now.
            "schedule_form": schedule_form
            or ScheduleForm(initial={"enabled": "off" if entry.enabled else "on"}),
            "dependents": [registry().get(other) for other in registry().dependents(key)],
            "can_toggle": request.membership.can_manage,
            **_approval_context(request.organization),
            "job_starters": job_forms(request, key, bound),
            "has_jobs": bool(capability.job_kinds),
            "own_pages": reverse(f"{key}:{capability.nav.url_name}") if capability.nav else "",
            "recent_jobs": [
                (job, _kind_label(capability, job.kind))
                for job in Job.objects.filter(organization=request.organization, capability=key)[:5]
            ],
        },
        status=status,
    )


@org_role_required(*MANAGING_ROLES)
def toggle(request: OrgRequest, key: str) -> HttpResponse:
    """GET: the confirmation (prices, the monthly estimate, related
    capabilities, billing note).
    POST: the change; htmx gets the refreshed catalog grid back."""
    _installed(key)
    organization = request.organization
    entry = queries.catalog_entry(organization, key)
    if request.method == "GET":
        enabled = request.GET.get("enabled") == "1"
        related = [registry().get(other) for other in actions.plan_change(organization, key, enabled)]
        if enabled and approval_queries.state(organization).policy_active:
            needed = approval_needed(organization, key, [key, *(other.key for other in related)])
            if needed is not None:  # the switch-on becomes a request for a second person
                return approval_views.request_panel(request, key, needed)
        template = (
            "capabilities/catalog.html#confirm" if wants_partial(request) else "capabilities/confirm.html"
        )
        context = {"entry": entry, "turn_on": enabled, "related": related}
        if enabled:  # what it would cost, for it and what comes along (two queries for all)
            estimates = queries.estimates(organization)
            context["estimate"] = estimates[key]
            context["related_estimates"] = [(other, estimates[other.key]) for other in related]
            context["budgets"] = [
                status for status in budgets.statuses(organization) if status.budget.capability in (None, key)
            ]
        return render(request, template, context)

    form = ToggleForm(request.POST)
    error = None
    if not form.is_valid():
        error = "The switch request was malformed; reload the page and try again."
    else:
        try:
            result = actions.set_capability_enabled(
                request.user,
                organization,
                key,
                enabled=form.cleaned_data["enabled"],
                reason=form.cleaned_data["reason"],
                include_related=form.cleaned_data["include_related"],
                origin=origin_of(request),
            )
        except actions.ApprovalRequired as held:
            # The policy changed since the card was drawn: ask for the request instead.
            needed = approval_needed(organization, key, [key, *actions.plan_change(organization, key, True)])
            if needed is not None:
                response = approval_views.request_panel(request, key, needed)
                if wants_partial(request):
                    response["HX-Retarget"] = f"#confirm-{key}"
                    response["HX-Reswap"] = "innerHTML"
                return response
            error = held.message
        except ActionError as refusal:
            error = refusal.message
        else:
            message = _describe(result.changed) or f"{entry.capability.title} was already in that state."
    if wants_partial(request):
        entries = queries.catalog(organization)
        return render(
            request,
            "capabilities/catalog.html#catalog-grid",
            {
                "entries": entries,
                "enabled_count": sum(entry.enabled for entry in entries),
                "can_toggle": True,
                "scheduled": schedules.pending_by_capability(organization),
                **_approval_context(organization),
                "notice": error or message,
                "notice_kind": "error" if error else "success",
            },
            status=409 if error else 200,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, message)
    return redirect("home")


def capability_choices() -> list[tuple[str, str]]:
    """Every installed capability as a form's choice (key, title)."""
    return [(capability.key, capability.title) for capability in registry()]


def _describe(changed: dict[str, bool]) -> str:
    on = [registry().get(key) for key, state in changed.items() if state]
    off = [registry().get(key) for key, state in changed.items() if not state]
    parts = []
    if on:
        parts.append(f"Switched on: {', '.join(c.title for c in on)}.")
    if off:
        parts.append(f"Switched off: {', '.join(c.title for c in off)}.")
        if any(c.is_paid for c in off):
            parts.append("Usage so far this period is still billed.")
    return " ".join(parts)


@platform_required(finance=True)
def manage_toggles(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=slug)
    return render(
        request,
        "capabilities/manage_toggles.html",
        {
            "organization": organization,
            "entries": queries.catalog(organization),
            "form": ForceForm(),
            "scheduled": sorted(
                (s for pending in schedules.pending_by_capability(organization).values() for s in pending),
                key=lambda schedule: (schedule.at, schedule.pk),
            ),
            "schedule_form": ScheduleForm(capabilities=capability_choices()),
        },
    )


@platform_required()
@require_POST
def manage_force(request: AuthenticatedRequest, slug: str, key: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=slug)
    _installed(key)
    form = ForceForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(error) for error in errors))
        return redirect("manage:capabilities", slug=slug)
    action, reason = form.cleaned_data["action"], form.cleaned_data["reason"]
    title = registry().get(key).title
    try:
        if action == "unlock":
            actions.unlock_capability(
                request.user, organization, key, reason=reason, origin=origin_of(request)
            )
            messages.success(request, f"{title} is unlocked: {organization.name} can switch it again.")
        else:
            result = actions.force_capability(
                request.user,
                organization,
                key,
                enabled=action == "force_on",
                reason=reason,
                origin=origin_of(request),
            )
            state = "on" if action == "force_on" else "off"
            messages.success(
                request,
                f"{title} is forced {state} and locked for {organization.name}. {_describe(result.changed)}",
            )
    except ActionError as refusal:
        messages.error(request, refusal.message)
    return redirect("manage:capabilities", slug=slug)
