"""Notifications pages: rules (owners and admins change them), test sends, and
the deliveries with every attempt."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from capabilities.notifications import actions, queries
from capabilities.notifications.filtersets import DeliveryFilter
from capabilities.notifications.forms import RuleForm
from capabilities.notifications.tables import DeliveryTable
from capabilities.registry import registry
from portal.access import OrgRequest, get_for_org, org_role_required
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.htmx import page_or_partial
from portal.models import MANAGING_ROLES


def _index(request: OrgRequest, form: RuleForm | None = None, status: int = 200) -> HttpResponse:
    can_manage = request.membership.can_manage
    rules = list(queries.rules(request.organization))
    titles = {capability.key: capability.title for capability in registry()}
    for rule in rules:
        rule.capability_title = titles.get(rule.capability, rule.capability)  # type: ignore[attr-defined]
    return render(
        request,
        "notifications/index.html",
        {
            "rules": rules,
            "can_manage": can_manage,
            "form": (form or RuleForm()) if can_manage else None,
            "max_attempts": actions.max_attempts(),
        },
        status=status,
    )


@org_role_required()
def index(request: OrgRequest) -> HttpResponse:
    return _index(request)


@org_role_required(*MANAGING_ROLES)
@require_POST
def rule_create(request: OrgRequest) -> HttpResponse:
    form = RuleForm(request.POST)
    if not form.is_valid():
        return _index(request, form, status=400)
    try:
        actions.create_rule(
            request.user, request.organization, **form.cleaned_data, origin=origin_of(request)
        )
    except ActionError as refusal:
        form.add_error(None, refusal.message)
        return _index(request, form, status=400)
    messages.success(request, "The rule is saved.")
    return redirect("notifications:index")


@org_role_required(*MANAGING_ROLES)
@require_POST
def rule_delete(request: OrgRequest, rule_id: int) -> HttpResponse:
    rule = get_for_org(request, queries.rules(request.organization), pk=rule_id)
    actions.delete_rule(request.user, rule, origin=origin_of(request))
    messages.success(request, "The rule is deleted; its deliveries are kept.")
    return redirect("notifications:index")


@org_role_required(*MANAGING_ROLES)
@require_POST
def rule_test(request: OrgRequest, rule_id: int) -> HttpResponse:
    rule = get_for_org(request, queries.rules(request.organization), pk=rule_id)
    try:
        delivery = actions.send_test(request.user, rule, origin=origin_of(request))
    except ActionError as refusal:
        messages.error(request, refusal.message)
        return redirect("notifications:index")
    messages.success(request, f"Test message queued to {rule.target}.")
    return redirect("notifications:delivery", delivery_id=delivery.pk)


@org_role_required()
def deliveries(request: OrgRequest) -> HttpResponse:
    rows = queries.deliveries(request.organization)
    filterset = DeliveryFilter(request.GET or None, queryset=rows)
    table = DeliveryTable(filterset.qs)
    RequestConfig(request, paginate={"per_page": 25}).configure(table)
    template = page_or_partial(request, "notifications/deliveries.html", "delivery-table")
    response = render(
        request, template, {"filter": filterset, "table": table, "has_deliveries": rows.exists()}
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


@org_role_required()
def delivery(request: OrgRequest, delivery_id: int) -> HttpResponse:
    found = get_for_org(request, queries.deliveries(request.organization), pk=delivery_id)
    context = {
        "delivery": found,
        "attempts": found.attempts.order_by("number"),
        "max_attempts": actions.max_attempts(),
    }
    template = page_or_partial(request, "notifications/delivery.html", "delivery-status")
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
