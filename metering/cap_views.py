"""Platform caps: the budgets that platform finance and IT admins set on a
tenant, which the organization sees locked with their reason. Set and removed
on the tenant's page under /manage/ (a section of its own, loaded into the
page) and from /finance/, which also lists the organizations at or over a
budget."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from metering import actions, budgets
from metering.forms import BudgetForm, FinanceCapForm, PlatformCapForm
from metering.models import Budget
from metering.queries.budgets import budget_of
from portal.access import AuthenticatedRequest, finance_required, platform_required
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.htmx import wants_partial
from portal.models import Organization

NEW_CAP = "cap"


def _tenant(slug: str) -> Organization:
    return get_object_or_404(Organization, slug=slug)


def _cap_of(organization: Organization, budget_id: int) -> Budget:
    cap = budget_of(organization, budget_id)
    if cap is None or not cap.platform:
        raise Http404("No such cap")
    return cap


def _section(
    organization: Organization,
    *,
    add_form: PlatformCapForm | None = None,
    failed: tuple[int, PlatformCapForm] | None = None,
) -> dict[str, Any]:
    cards: list[tuple[budgets.BudgetStatus, BudgetForm, bool]] = []
    for status in budgets.statuses(organization):
        if not status.locked:
            continue
        budget = status.budget
        if failed is not None and failed[0] == budget.pk:
            cards.append((status, failed[1], True))
        else:
            cards.append((status, PlatformCapForm.of(budget, prefix=f"cap-{budget.pk}"), False))
    return {
        "organization": organization,
        "caps": cards,
        "cap_form": add_form or PlatformCapForm(prefix=NEW_CAP),
        "budget_currency": budgets.currency(),
    }


def _answer(
    request: AuthenticatedRequest, organization: Organization, section: dict[str, Any]
) -> HttpResponse:
    """htmx swaps the section (errors inline); a plain post goes back to the
    tenant's page, or sees the caps page with its errors."""
    if wants_partial(request):
        return render(request, "metering/caps.html#caps", {**section, "caps_swapped": True})
    failed = section["cap_form"].errors or any(editing for _, _, editing in section["caps"])
    if failed:
        return render(request, "metering/caps.html", section, status=400)
    return redirect(reverse("manage:organization", kwargs={"slug": organization.slug}) + "#caps")


@platform_required(finance=True)
def tenant_caps(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    """The tenant's platform caps (GET: the section the tenant page loads, or a
    page of its own), and a new cap (POST)."""
    organization = _tenant(slug)
    if request.method != "POST":
        template = "metering/caps.html#caps" if wants_partial(request) else "metering/caps.html"
        return render(request, template, _section(organization))
    form = PlatformCapForm(request.POST, prefix=NEW_CAP)
    if form.is_valid() and _set_cap(request, organization, form):
        return _answer(request, organization, _section(organization))
    return _answer(request, organization, _section(organization, add_form=form))


@platform_required(finance=True)
@require_POST
def tenant_cap_change(request: AuthenticatedRequest, slug: str, budget_id: int) -> HttpResponse:
    organization = _tenant(slug)
    cap = _cap_of(organization, budget_id)
    form = PlatformCapForm(request.POST, prefix=f"cap-{cap.pk}")
    if form.is_valid():
        try:
            actions.save_budget(
                request.user, organization, budget=cap, origin=origin_of(request), **form.budget_fields()
            )
        except ActionError as refusal:
            form.add_refusal(refusal)
        else:
            messages.success(request, f"Platform cap for {budgets.scope_name(cap.capability)} changed.")
            return _answer(request, organization, _section(organization))
    return _answer(request, organization, _section(organization, failed=(cap.pk, form)))


@platform_required(finance=True)
@require_POST
def tenant_cap_delete(request: AuthenticatedRequest, slug: str, budget_id: int) -> HttpResponse:
    organization = _tenant(slug)
    cap = _cap_of(organization, budget_id)
    scope = budgets.scope_name(cap.capability)
    try:
        actions.delete_budget(request.user, cap, origin=origin_of(request))
    except ActionError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"Platform cap for {scope} removed from {organization.name}.")
    return _answer(request, organization, _section(organization))


# --- finance ---------------------------------------------------------------------------


def _set_cap(
    request: AuthenticatedRequest, organization: Organization, form: PlatformCapForm | FinanceCapForm
) -> bool:
    """Set the cap `form` describes on `organization`; a refusal goes on the form."""
    try:
        cap = actions.save_budget(
            request.user, organization, origin=origin_of(request), **form.budget_fields()
        )
    except ActionError as refusal:
        form.add_refusal(refusal)
        return False
    messages.success(
        request, f"Platform cap for {budgets.scope_name(cap.capability)} set on {organization.name}."
    )
    return True


@finance_required
def finance_caps(request: AuthenticatedRequest) -> HttpResponse:
    """Finance sets a platform cap on any organization, from /finance/."""
    form = FinanceCapForm(request.POST or None, prefix=NEW_CAP)
    if (
        request.method == "POST"
        and form.is_valid()
        and _set_cap(request, form.cleaned_data["organization"], form)
    ):
        return redirect(reverse("finance") + "#budgets")
    return render(
        request,
        "metering/finance_caps.html",
        {"cap_form": form, "budget_currency": budgets.currency()},
        status=400 if form.errors else 200,
    )
