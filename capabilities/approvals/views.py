"""Pages of capability requests: the requests page (pending and decided, with
approve and decline for owners and admins), asking for a capability (a page,
or a panel in the catalog), the approval limit on the settings page, and the
IT admin's every-switch-on rule on a tenant's page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from capabilities.approvals import actions, queries
from capabilities.approvals.forms import CostLimitForm, DecisionForm, RequestForm, TenantRuleForm
from capabilities.approvals.models import CapabilityRequest
from capabilities.approvals.policy import ApprovalNeeded, policy_of
from capabilities.registry import registry
from metering import budgets
from portal.access import AuthenticatedRequest, OrgRequest, org_role_required, platform_required
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.htmx import wants_partial
from portal.models import MANAGING_ROLES, Organization

RULE_PREFIX = "approvals"  # the tenant page holds other forms with a `reason`


def _ids(key: str) -> str:
    """Field ids of a request form: one per capability, as several catalog cards may hold one."""
    return f"ask-{slugify(key) or 'any'}-%s"


def _request_for_org(request: OrgRequest, request_id: int) -> CapabilityRequest:
    found = queries.request_of(request.organization, request_id)
    if found is None:
        raise Http404("No such request")
    return found


@org_role_required()
def capability_requests(request: OrgRequest) -> HttpResponse:
    status = request.GET.get("status", queries.PENDING)
    if status not in (queries.PENDING, queries.DECIDED):
        status = queries.PENDING
    visible = queries.visible_requests(request.organization, request.membership)
    rows = list(queries.filtered(visible, status)[:200])
    can_decide = request.membership.role in MANAGING_ROLES
    return render(
        request,
        "approvals/requests.html",
        {
            "status": status,
            "rows": rows,
            "can_decide": can_decide,
            "has_any": bool(rows) or visible.exists(),
            "decision_form": DecisionForm(),
        },
    )


@org_role_required()
def new_request(request: OrgRequest) -> HttpResponse:
    """GET: the form (a panel in the catalog for htmx, else a page), the
    capability picked by `?capability=`. POST: the request."""
    organization = request.organization
    if request.method == "POST":
        form = RequestForm(request.POST, auto_id=_ids(request.POST.get("capability", "")))
        if form.is_valid():
            key = form.cleaned_data["capability"]
            try:
                made = actions.request_capability(
                    request.user,
                    organization,
                    key,
                    reason=form.cleaned_data["reason"],
                    enabled=form.cleaned_data["enabled"],
                    origin=origin_of(request),
                )
            except ActionError as refusal:
                form.add_error(None, refusal.message)
            else:
                sent = (
                    f"The owners and admins of {organization.name} are told, and you get an email when "
                    f"one decides. It expires {made.expires_at:%-d %b %Y} if nobody does."
                )
                if wants_partial(request):
                    return render(
                        request, "approvals/request_form.html#sent", {"made": made, "message": sent}
                    )
                messages.success(request, f"Request sent. {sent}")
                return redirect("capability_requests")
        if wants_partial(request):  # htmx swaps 2xx answers only: the errors show in the panel
            return render(request, "approvals/request_form.html#form", _form_context(request, form))
        return render(request, "approvals/request_form.html", _form_context(request, form), status=400)
    key = request.GET.get("capability", "")
    form = RequestForm(
        initial={"capability": key, "enabled": "off" if request.GET.get("enabled") == "0" else "on"},
        auto_id=_ids(key),
    )
    template = "approvals/request_form.html#form" if wants_partial(request) else "approvals/request_form.html"
    return render(request, template, _form_context(request, form))


def _form_context(
    request: OrgRequest, form: RequestForm, needed: ApprovalNeeded | None = None
) -> dict[str, Any]:
    key = str((form.data if form.is_bound else form.initial).get("capability") or "")
    capability = registry().get(key) if key in registry() else None
    return {
        "form": form,
        "capability": capability,
        "can_switch": request.membership.can_manage,
        "approval_needed": needed,
    }


def request_panel(request: OrgRequest, key: str, needed: ApprovalNeeded) -> HttpResponse:
    """Where a switch-on the approval policy holds lands (the toggle's confirm
    step): the request form, saying why, as the catalog's panel or a page."""
    form = RequestForm(initial={"capability": key, "enabled": "on"}, auto_id=_ids(key))
    template = "approvals/request_form.html#form" if wants_partial(request) else "approvals/request_form.html"
    return render(request, template, _form_context(request, form, needed))


def _decide(request: OrgRequest, request_id: int, *, approve: bool) -> HttpResponse:
    found = _request_for_org(request, request_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The note is too long: keep it under 500 characters.")
        return redirect("capability_requests")
    note = form.cleaned_data["note"]
    try:
        if approve:
            actions.approve_request(request.user, found, note=note, origin=origin_of(request))
        else:
            actions.decline_request(request.user, found, note=note, origin=origin_of(request))
    except ActionError as refusal:
        messages.error(request, refusal.message)
        return redirect("capability_requests")
    who = found.requested_by.display_name
    if approve:
        messages.success(
            request,
            f"Approved: {found.title} is switched {'on' if found.enabled else 'off'}, and {who} is told.",
        )
    else:
        messages.success(request, f"Declined: {who} is told{' with your note' if note else ''}.")
    return redirect("capability_requests")


@org_role_required()
@require_POST
def approve(request: OrgRequest, request_id: int) -> HttpResponse:
    return _decide(request, request_id, approve=True)


@org_role_required()
@require_POST
def decline(request: OrgRequest, request_id: int) -> HttpResponse:
    return _decide(request, request_id, approve=False)


# --- the approval limit (the organization's settings page) ----------------------


def _settings_section(organization: Organization, form: CostLimitForm | None = None) -> dict[str, Any]:
    policy = policy_of(organization)
    if form is None:
        form = CostLimitForm(initial={"cost_limit": policy.cost_limit if policy else None})
    return {
        "policy": policy,
        "limit_form": form,
        "currency": budgets.currency(),
        "request_ttl_days": settings.CAPABILITY_REQUEST_TTL.days,
    }


@org_role_required(*MANAGING_ROLES)
def approval_settings(request: OrgRequest) -> HttpResponse:
    """The settings page's Approvals section (GET, loaded by htmx, or a page of
    its own) and the new limit (POST)."""
    organization = request.organization
    if request.method == "POST":
        form = CostLimitForm(request.POST)
        if form.is_valid():
            limit = form.cleaned_data["cost_limit"]
            try:
                actions.set_cost_limit(request.user, organization, limit=limit, origin=origin_of(request))
            except ActionError as refusal:
                form.add_error("cost_limit", refusal.message)
            else:
                messages.success(
                    request,
                    "Approval limit saved." if limit is not None else "Approval limit removed.",
                )
                return redirect(reverse("organization_settings") + "#approvals")
        if wants_partial(request):
            return render(request, "approvals/settings.html#approvals", _settings_section(organization, form))
        return render(request, "approvals/settings.html", _settings_section(organization, form), status=400)
    template = "approvals/settings.html#approvals" if wants_partial(request) else "approvals/settings.html"
    return render(request, template, _settings_section(organization))


# --- the IT admin's rule (a tenant's page under /manage/) ---------------------------


def _tenant_section(organization: Organization, form: TenantRuleForm | None = None) -> dict[str, Any]:
    policy = policy_of(organization)
    if form is None:
        form = TenantRuleForm(
            prefix=RULE_PREFIX,
            initial={
                "every_switch_on": bool(policy and policy.every_switch_on),
                "reason": policy.every_switch_on_reason if policy else "",
            },
        )
    return {"organization": organization, "policy": policy, "rule_form": form, "currency": budgets.currency()}


@platform_required(finance=True)
def tenant_approvals(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    """The tenant page's Approvals section (GET) and the IT admin's rule (POST)."""
    organization = get_object_or_404(Organization, slug=slug)
    if request.method == "POST":
        if not request.user.is_staff:
            messages.error(request, "Only IT admins set this rule.")
            return redirect("manage:organization", slug=slug)
        form = TenantRuleForm(request.POST, prefix=RULE_PREFIX)
        if form.is_valid():
            required = form.cleaned_data["every_switch_on"]
            actions.require_approval_for_every_switch_on(
                request.user,
                organization,
                required=required,
                reason=form.cleaned_data["reason"],
                origin=origin_of(request),
            )
            messages.success(
                request,
                f"Every switch-on in {organization.name} now needs a second person's approval."
                if required
                else f"{organization.name}'s owners and admins switch capabilities on without approval "
                "again.",
            )
            return redirect(reverse("manage:organization", kwargs={"slug": slug}) + "#approvals")
        if wants_partial(request):
            return render(request, "approvals/tenant.html#approvals", _tenant_section(organization, form))
        return render(request, "approvals/tenant.html", _tenant_section(organization, form), status=400)
    template = "approvals/tenant.html#approvals" if wants_partial(request) else "approvals/tenant.html"
    return render(request, template, _tenant_section(organization))
