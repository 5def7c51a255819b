"""Usage pages: an organization's usage and cost (owners, admins, billing) and
platform finance's dashboard across organizations, with CSV exports and the
corrections form. Every figure is read from the rollups, never the raw ledger."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from metering import actions, charts, csv_export
from metering.filtersets import FinanceFilter
from metering.forms import CorrectionForm, HoldForm, RangeForm, capability_choices
from metering.models import UsageRollup
from metering.periods import RANGES, billing_period
from metering.queries.anomalies import (
    held_capabilities,
    hold_choices,
    organization_anomalies,
    platform_anomalies,
    rule,
)
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
from portal.htmx import page_or_partial
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
        **_anomalies_context(request),
    }
    template = page_or_partial(request, "metering/usage.html", "usage-panels")
    return render(request, template, context)


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
