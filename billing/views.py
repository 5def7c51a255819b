"""Billing pages: the organization's billing page (owners, admins, billing),
finance's price book, reconciliation runs and Stripe events, and the webhook
endpoint Stripe calls."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from billing import actions, queries, standing, webhooks
from billing import stripe_gateway as gateway
from billing.filtersets import LineFilter
from billing.forms import PriceChangeForm, ReconciliationForm
from billing.models import ReconciliationRun
from billing.tables import InvoiceTable, LineTable, RunTable, WebhookEventTable
from metering import csv_export
from portal.access import AuthenticatedRequest, OrgRequest, finance_required, org_role_required
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.htmx import wants_partial
from portal.models import USAGE_ROLES

logger = logging.getLogger(__name__)


# --- the organization's billing page -------------------------------------------------


@org_role_required(*USAGE_ROLES)
@require_GET
def billing(request: OrgRequest) -> HttpResponse:
    now = timezone.now()
    account = queries.billing_account(request.organization)
    table = InvoiceTable(queries.organization_invoices(request.organization))
    RequestConfig(request, paginate={"per_page": 12}).configure(table)
    return render(
        request,
        "billing/billing.html",
        {
            "account": account,
            "restriction_due": standing.restriction_due(account) if account else None,
            "upcoming": queries.upcoming_invoice(request.organization, now),
            "invoices": table,
            "stripe_configured": gateway.configured(),
            "pushes_open_hour": settings.BILLING_PUSH_OPEN_HOUR,
        },
    )


# --- finance: price book ------------------------------------------------------------------


@finance_required
def prices(request: AuthenticatedRequest) -> HttpResponse:
    form = PriceChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        capability, meter = form.capability_and_meter
        try:
            version = actions.change_price(
                request.user,
                capability,
                meter,
                form.cleaned_data["unit_price"],
                note=form.cleaned_data["note"],
                effective_from=form.cleaned_data["effective_from"],
                origin=origin_of(request),
            )
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                f"{capability}.{meter} v{version.version} at {version.unit_price.normalize():f} "
                f"applies from {version.effective_from:%d %B %Y}. "
                "Stripe gets the new Price at the next sync.",
            )
            return redirect("billing_prices")
    return render(request, "billing/prices.html", {"form": form, "lines": queries.price_lines()})


# --- finance: reconciliation --------------------------------------------------------------


def _run_or_404(run_id: int) -> ReconciliationRun:
    run = queries.reconciliation_run(run_id)
    if run is None:
        raise Http404("No reconciliation run has this id.")
    return run


@finance_required
def reconciliations(request: AuthenticatedRequest) -> HttpResponse:
    form = ReconciliationForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and not gateway.configured():
        form.add_error(
            None, "Stripe is not configured (STRIPE_SECRET_KEY): there is nothing to compare with."
        )
    elif request.method == "POST" and form.is_valid():
        run = actions.start_reconciliation(
            request.user, form.cleaned_data["period"], origin=origin_of(request)
        )
        messages.success(request, f"Reconciliation #{run.pk} of {run.period_start:%B %Y} started.")
        return redirect("billing_reconciliation", run.pk)
    table = RunTable(queries.reconciliation_runs())
    RequestConfig(request, paginate={"per_page": 20}).configure(table)
    return render(
        request,
        "billing/reconciliations.html",
        {"form": form, "table": table, "stripe_configured": gateway.configured()},
    )


@finance_required
@require_GET
def reconciliation(request: AuthenticatedRequest, run_id: int) -> HttpResponse:
    run = _run_or_404(run_id)
    context: dict[str, object] = {"run": run, "finished": run.finished}
    if wants_partial(request):
        response = render(request, "billing/reconciliation.html#run-status", context)
    else:
        lines = LineFilter(request.GET or None, queryset=queries.run_lines(run))
        table = LineTable(lines.qs)
        RequestConfig(request, paginate={"per_page": 50}).configure(table)
        context.update({"filter": lines, "table": table, "query": request.GET.urlencode()})
        response = render(request, "billing/reconciliation.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


RECONCILIATION_HEADER = [
    "day",
    "organization",
    "capability",
    "meter",
    "switchboard_quantity",
    "stripe_quantity",
    "difference",
    "status",
    "action",
    "detail",
]


@finance_required
@require_GET
def reconciliation_export(request: AuthenticatedRequest, run_id: int) -> HttpResponse:
    run = _run_or_404(run_id)
    lines = LineFilter(request.GET or None, queryset=queries.run_lines(run)).qs
    rows = (
        (
            line.day.isoformat(),
            line.organization.slug,
            line.capability,
            line.meter,
            line.local_quantity,
            "" if line.stripe_quantity is None else line.stripe_quantity,  # unavailable: unknown
            "" if line.difference is None else line.difference,
            line.status,
            line.action,
            line.detail,
        )
        for line in lines.iterator(chunk_size=2000)
    )
    return csv_export.csv_response(
        f"reconciliation-{run.pk}-{run.period_start:%Y-%m}.csv", RECONCILIATION_HEADER, rows
    )


# --- finance: what Stripe told us ------------------------------------------------------------


@finance_required
@require_GET
def stripe_events(request: AuthenticatedRequest) -> HttpResponse:
    table = WebhookEventTable(queries.webhook_events())
    RequestConfig(request, paginate={"per_page": 25}).configure(table)
    return render(
        request,
        "billing/events.html",
        {
            "table": table,
            "meter_errors": queries.meter_errors(),
            "failed_accounts": queries.failed_payments(),
        },
    )


# --- the webhook endpoint --------------------------------------------------------------------


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe calls this. The signature is verified with the SDK against the
    endpoint secret; a bad one gets 400 and nothing is recorded. A signed event
    we can't use is stored as unusable and answered 200, so Stripe doesn't
    retry what will never change; a body that isn't an object gets 400."""
    try:
        event = gateway.construct_event(request.body, request.headers.get("Stripe-Signature"))
    except gateway.NotConfigured:
        logger.error("A Stripe webhook arrived but STRIPE_WEBHOOK_SECRET is unset")
        return JsonResponse({"error": "Webhooks are not configured."}, status=503)
    except gateway.SignatureInvalid as error:
        return JsonResponse({"error": error.message}, status=400)
    named = [event.get("id"), event.get("type")]
    if not all(isinstance(name, str) and 0 < len(name) <= 100 for name in named):
        return JsonResponse({"error": "The event has no id or type."}, status=400)
    row, new = webhooks.process(event)
    return JsonResponse(
        {"received": row.stripe_event_id, "processed": new, "status": row.status, "outcome": row.outcome}
    )
