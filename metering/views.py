"""Usage pages: an organization's usage and cost (owners, admins, billing) and
platform finance's dashboard across organizations, with CSV exports and the
corrections form. Every figure is read from the rollups, never the raw ledger."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from metering import actions, budgets, charts, csv_export
from metering.filtersets import FinanceFilter
from metering.forms import BudgetForm, CorrectionForm, HoldForm, RangeForm, capability_choices
from metering.models import Budget, UsageRollup
from metering.periods import RANGES, billing_period
from metering.queries.anomalies import (
    held_capabilities,
    hold_choices,
    organization_anomalies,
    platform_anomalies,
    rule,
)
from metering.queries.budgets import budget_of, budgets_at_risk, platform_caps
from metering.queries.finance import finance_dashboard, recent_corrections, usage_by_organization
from metering.queries.sources import Scope, best_source
from metering.queries.usage import (
    organization_rollups,
    projection,
    projection_from,
    quantities_over_time,
    totals_by_currency,
    usage_by_meter,
    usage_over_time,
)
from metering.tables import CorrectionTable, OrganizationUsageTable, UsageTable
from portal.access import AuthenticatedRequest, OrgRequest, finance_required, org_role_required
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.htmx import page_or_partial, wants_partial
from portal.models import MANAGING_ROLES, USAGE_ROLES, Role

TOP_ORGANIZATIONS = 10
RECENT_ANOMALIES = 20


def _query_string(request: HttpRequest) -> str:
    """The page's filters, for the export link and the range buttons."""
    return request.GET.urlencode()


# --- the organization's usage ------------------------------------------------------


@org_role_required(*USAGE_ROLES)
@require_GET
def usage(request: OrgRequest) -> HttpResponse:
    return _usage_page(request)


def _usage_page(
    request: OrgRequest, budget_section: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    """The usage page; with the budgets section given when a budget form came back with errors."""
    now = timezone.now()
    form = RangeForm(request.GET or None)
    period = form.period(now)
    rollups = organization_rollups(request.organization)
    lines = usage_by_meter(rollups, period)
    current = billing_period(now)
    outlook = projection_from(lines, now) if period == current else projection(rollups, now)
    trend = usage_over_time(rollups, period)
    totals = totals_by_currency(lines)
    table = UsageTable(lines, totals=totals)
    RequestConfig(request, paginate=False).configure(table)
    context = {
        "form": form,
        "range": form.choice,
        "range_label": RANGES[form.choice],
        "ranges": RANGES,
        "period": period,
        "lines": lines,
        "table": table,
        "totals": totals,
        "projection": outlook,
        "chart": charts.stacked_bar_chart(trend),
        "trend": trend,
        "query": _query_string(request),
        **(budget_section or _budget_section(request)),
        **_anomalies_context(request),
    }
    template = page_or_partial(request, "metering/usage.html", "usage-panels")
    return render(request, template, context, status=status)


@org_role_required(*USAGE_ROLES)
@require_GET
def usage_export(request: OrgRequest) -> HttpResponse:
    form = RangeForm(request.GET or None)
    period = form.period(timezone.now())
    rollups = organization_rollups(request.organization)
    rows = csv_export.usage_rows(quantities_over_time(rollups, period), period)
    filename = f"usage-{request.organization.slug}-{period.start:%Y-%m-%d}-{period.last_day:%Y-%m-%d}.csv"
    return csv_export.csv_response(filename, csv_export.USAGE_HEADER, rows)


def _anomalies_context(request: OrgRequest) -> dict:
    """The usage page's spikes panel: recent anomalies, capabilities held now,
    and (owners and admins) the hold choice of each capability."""
    if request.htmx:
        return {}  # the range's partial doesn't show them
    can_manage = request.membership.role in MANAGING_ROLES
    chosen = hold_choices(request.organization) if can_manage else {}
    return {
        "anomalies": organization_anomalies(request.organization, limit=RECENT_ANOMALIES),
        "held": held_capabilities(request.organization),
        "is_owner": request.membership.role == Role.OWNER,
        "can_manage_holds": can_manage,
        "rule": rule(),
        "hold_options": [
            {"capability": key, "title": title, "on": chosen.get(key, False)}
            for key, title in capability_choices()
        ],
    }


@org_role_required(*MANAGING_ROLES)
@require_POST
def anomaly_hold(request: OrgRequest) -> HttpResponse:
    """Owners and admins choose whether a spike holds a capability's new jobs."""
    form = HoldForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a capability and whether to hold it on a spike.")
        return redirect(f"{reverse('usage')}#anomalies")
    capability = form.cleaned_data["capability"]
    hold = form.cleaned_data["hold"]
    try:
        actions.set_hold_on_anomaly(
            request.user, request.organization, capability, enabled=hold, origin=origin_of(request)
        )
    except ActionError as error:
        messages.error(request, error.message)
    else:
        title = dict(capability_choices())[capability]
        messages.success(
            request,
            f"A usage spike of {title} now holds its new jobs until an owner releases them."
            if hold
            else f"A usage spike of {title} is alerted; its jobs keep running.",
        )
    return redirect(f"{reverse('usage')}#anomalies")


# --- finance -------------------------------------------------------------------------


def _finance_scope(request: HttpRequest) -> Scope:
    """The finance filters, applicable to every rollup grain."""
    return lambda model: FinanceFilter(request.GET or None, queryset=model._default_manager.all()).qs


def _finance_filters(request: HttpRequest) -> tuple[RangeForm, FinanceFilter]:
    form = RangeForm(request.GET or None)
    filterset = FinanceFilter(request.GET or None, queryset=UsageRollup.objects.all())
    return form, filterset


@finance_required
@require_GET
def finance(request: AuthenticatedRequest) -> HttpResponse:
    now = timezone.now()
    form, filterset = _finance_filters(request)
    period = form.period(now)
    dashboard = finance_dashboard(
        _finance_scope(request),
        period,
        top=TOP_ORGANIZATIONS,
        all_organizations=not filterset.form.data.get("organization", "").strip(),
    )
    table = OrganizationUsageTable(dashboard.by_organization)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    context = {
        "form": form,
        "filter": filterset,
        "range": form.choice,
        "range_label": RANGES[form.choice],
        "ranges": RANGES,
        "period": period,
        "dashboard": dashboard,
        "totals": dashboard.totals,
        "meter_table": UsageTable(dashboard.by_meter, totals=dashboard.totals, orderable=False),
        "table": table,
        "chart": charts.stacked_bar_chart(dashboard.trend),
        "query": _query_string(request),
        "at_risk": budgets_at_risk(now=now),
        "platform_caps": platform_caps(),
        "budget_month": billing_period(now).start,
        "anomalies": [] if request.htmx else platform_anomalies(limit=RECENT_ANOMALIES),
        "show_organization": True,
        "rule": rule(),
    }
    template = page_or_partial(request, "metering/finance.html", "finance-panels")
    return render(request, template, context)


@finance_required
@require_GET
def finance_export(request: AuthenticatedRequest) -> HttpResponse:
    form, _ = _finance_filters(request)
    period = form.period(timezone.now())
    lines = usage_by_organization(best_source(_finance_scope(request), period), period)
    filename = f"finance-usage-{period.start:%Y-%m-%d}-{period.last_day:%Y-%m-%d}.csv"
    return csv_export.csv_response(
        filename, csv_export.FINANCE_HEADER, csv_export.finance_rows(lines, period)
    )


@finance_required
def corrections(request: AuthenticatedRequest) -> HttpResponse:
    form = CorrectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        capability, meter = form.capability_and_meter
        organization = form.cleaned_data["organization"]
        try:
            actions.record_correction(
                request.user,
                organization,
                capability=capability,
                meter=meter,
                quantity=form.cleaned_data["quantity"],
                reason=form.cleaned_data["reason"],
                occurred_at=form.occurred_at,
                origin=origin_of(request),
            )
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                f"Correction of {form.cleaned_data['quantity']:+,} {capability}.{meter} "
                f"recorded for {organization.name}.",
            )
            return redirect("finance_corrections")
    table = CorrectionTable(recent_corrections())
    return render(
        request,
        "metering/corrections.html",
        {"form": form, "table": table},
        status=400 if form.errors else 200,
    )


# --- budgets on /usage/ --------------------------------------------------------------

NEW_BUDGET = "new"  # the add form's prefix; a budget's own form is prefixed with its id


@dataclass(frozen=True)
class BudgetCard:
    """A budget as /usage/ shows it: its figures, the words for its state, and
    its form (a platform cap has none: the organization cannot change it)."""

    status: budgets.BudgetStatus
    form: BudgetForm | None
    editing: bool = False  # its form came back with errors: shown open

    @property
    def state_label(self) -> str:
        status = self.status
        if status.state == budgets.State.STOPPED:
            return "Stopped: new jobs are refused"
        if status.state == budgets.State.ALERTED:
            return f"{status.reached_thresholds[-1]} % alert sent"
        return "Within budget"

    @property
    def projected_over(self) -> bool:
        return self.status.projected > self.status.budget.amount


def _budget_section(
    request: OrgRequest, *, add_form: BudgetForm | None = None, failed: tuple[int, BudgetForm] | None = None
) -> dict[str, Any]:
    cards = []
    for status in budgets.statuses(request.organization):
        budget = status.budget
        if status.locked:
            cards.append(BudgetCard(status, None))
        elif failed is not None and failed[0] == budget.pk:
            cards.append(BudgetCard(status, failed[1], editing=True))
        else:
            cards.append(BudgetCard(status, BudgetForm.of(budget, prefix=f"budget-{budget.pk}")))
    return {
        "budget_cards": cards,
        "budget_form": add_form or BudgetForm(prefix=NEW_BUDGET),
        "budget_currency": budgets.currency(),
        "budget_month": billing_period(timezone.now()).start,
        "can_set_budgets": request.membership.role in USAGE_ROLES,
    }


def _budgets_answer(request: OrgRequest, section: dict[str, Any], *, failed: bool) -> HttpResponse:
    """htmx swaps the budgets section in (errors inline, 200 so that it is
    swapped); a plain form post sees the whole page again (400 with errors),
    or is sent back to it."""
    if wants_partial(request):
        return render(request, "metering/usage.html#budgets", {**section, "budgets_swapped": True})
    if not failed:
        return redirect(reverse("usage") + "#budgets")
    return _usage_page(request, budget_section=section, status=400)


@org_role_required(*USAGE_ROLES)
@require_POST
def budget_create(request: OrgRequest) -> HttpResponse:
    form = BudgetForm(request.POST, prefix=NEW_BUDGET)
    if form.is_valid():
        try:
            budget = actions.save_budget(
                request.user, request.organization, origin=origin_of(request), **form.budget_fields()
            )
        except ActionError as refusal:
            form.add_refusal(refusal)
        else:
            messages.success(request, f"Budget for {budgets.scope_name(budget.capability)} set.")
            return _budgets_answer(request, _budget_section(request), failed=False)
    return _budgets_answer(request, _budget_section(request, add_form=form), failed=True)


def _own_budget(request: OrgRequest, budget_id: int) -> Budget:
    budget = budget_of(request.organization, budget_id)
    if budget is None:
        raise Http404("No such budget")
    return budget


@org_role_required(*USAGE_ROLES)
@require_POST
def budget_change(request: OrgRequest, budget_id: int) -> HttpResponse:
    budget = _own_budget(request, budget_id)
    form = BudgetForm(request.POST, prefix=f"budget-{budget.pk}")
    if form.is_valid():
        try:
            actions.save_budget(
                request.user,
                request.organization,
                budget=budget,
                origin=origin_of(request),
                **form.budget_fields(),
            )
        except ActionError as refusal:
            form.add_refusal(refusal)
        else:
            messages.success(request, f"Budget for {budgets.scope_name(budget.capability)} changed.")
            return _budgets_answer(request, _budget_section(request), failed=False)
    return _budgets_answer(request, _budget_section(request, failed=(budget.pk, form)), failed=True)


@org_role_required(*USAGE_ROLES)
@require_POST
def budget_delete(request: OrgRequest, budget_id: int) -> HttpResponse:
    budget = _own_budget(request, budget_id)
    scope = budgets.scope_name(budget.capability)
    try:
        actions.delete_budget(request.user, budget, origin=origin_of(request))
    except ActionError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"Budget for {scope} removed: spending for it is no longer limited.")
    return _budgets_answer(request, _budget_section(request), failed=False)
