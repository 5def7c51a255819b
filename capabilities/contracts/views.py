"""Pages of the contract tracker: the contracts table (filters, CSV export)
and one contract with every field, its citation and the correction form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from capabilities.contracts import actions, queries
from capabilities.contracts.corrections import CORRECTABLE
from capabilities.contracts.filtersets import ContractFilter
from capabilities.contracts.forms import CorrectionForm
from capabilities.contracts.models import Contract
from capabilities.contracts.tables import ContractTable, months_text
from metering.csv_export import csv_response
from portal.access import OrgRequest, get_for_org, org_role_required
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.models import USING_ROLES

CSV_HEADER = (
    "document",
    "parties",
    "effective_date",
    "term_months",
    "expiry_date",
    "current_term_end",
    "auto_renews",
    "renewal_term_months",
    "notice_period_days",
    "notice_deadline",
    "next_notice_deadline",
    "governing_law",
    "url",
)


@org_role_required()
def index(request: OrgRequest) -> HttpResponse:
    if request.GET.get("format") == "csv":
        return export(request)
    contracts = ContractFilter(request.GET or None, queryset=queries.contracts(request.organization))
    table = ContractTable(contracts.qs)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return render(
        request,
        "contracts/index.html",
        {
            "table": table,
            "filter": contracts,
            "has_any": queries.contracts(request.organization).exists(),
            "csv_query": urlencode({**request.GET.dict(), "format": "csv"}),
        },
    )


@org_role_required()
def export(request: OrgRequest) -> HttpResponse:
    contracts = ContractFilter(request.GET or None, queryset=queries.contracts(request.organization)).qs
    rows = [
        (
            contract.document.name,
            "; ".join(contract.parties or []),
            _iso(contract.effective_date),
            contract.term_months,
            _iso(contract.expiry_date),
            _iso(contract.current_term_end),
            "" if contract.auto_renews is None else "yes" if contract.auto_renews else "no",
            contract.renewal_term_months,
            contract.notice_period_days,
            _iso(contract.notice_deadline),
            _iso(contract.next_notice_deadline),
            contract.governing_law,
            request.build_absolute_uri(reverse("contracts:contract", args=[contract.pk])),
        )
        for contract in contracts
    ]
    return csv_response(f"contracts-{request.organization.slug}.csv", CSV_HEADER, rows)


def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""


@dataclass(frozen=True)
class FieldRow:
    name: str
    label: str
    value: str
    known: bool
    citations: list[dict[str, Any]]
    computed: bool
    corrected: bool


def _shown(name: str, value: Any) -> str:
    if value is None or value == []:
        return "Unknown"
    if name in ("term_months", "renewal_term_months"):
        return months_text(value)
    if name == "notice_period_days":
        return f"{value} day{'s' if value != 1 else ''}"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, date):
        return value.strftime("%-d %B %Y")
    if isinstance(value, list):
        return "\n".join(value)
    return str(value)


def field_rows(contract: Contract) -> list[FieldRow]:
    rows = []
    for name, label in CORRECTABLE.items():
        if name == "is_contract":
            continue
        value = getattr(contract, name)
        citations = [
            {
                **citation,
                "url": reverse("documents:document", args=[contract.document_id])
                + "?"
                + urlencode({"page": citation["page"], "start": citation["start"], "end": citation["end"]})
                + f"#page-{citation['page']}",
            }
            for citation in contract.citations.get(name, [])
        ]
        rows.append(
            FieldRow(
                name=name,
                label=label,
                value=_shown(name, value),
                known=value is not None and value != [],
                citations=citations,
                computed=name in contract.computed,
                corrected=name in contract.corrected,
            )
        )
    return rows


@org_role_required()
def contract_detail(request: OrgRequest, contract_id: int) -> HttpResponse:
    contract = get_for_org(request, queries.analyses(request.organization), pk=contract_id)
    return _render_detail(request, contract, CorrectionForm())


def _render_detail(
    request: OrgRequest, contract: Contract, form: CorrectionForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "contracts/contract.html",
        {
            "contract": contract,
            "rows": field_rows(contract),
            "corrections": queries.corrections(contract)[:50],
            "form": form,
            "can_correct": request.membership.role in USING_ROLES,
        },
        status=status,
    )


@org_role_required(*USING_ROLES)
@require_POST
def correct(request: OrgRequest, contract_id: int) -> HttpResponse:
    contract = get_for_org(request, queries.analyses(request.organization), pk=contract_id)
    form = CorrectionForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, contract, form, status=400)
    field = form.cleaned_data["field"]
    try:
        actions.correct_contract(
            request.user,
            contract,
            field,
            form.cleaned_data["value"],
            note=form.cleaned_data["note"],
            origin=origin_of(request),
        )
    except ActionError as refusal:
        form.add_error("value", refusal.message)
        return _render_detail(request, contract, form, status=400)
    messages.success(
        request,
        f"{CORRECTABLE[field]} is corrected; the correction stays when the document is analysed again.",
    )
    return redirect("contracts:contract", contract_id=contract.pk)
