"""Pages of the sales reports capability: upload spreadsheets, confirm the
column mapping (with a preview), build, and the report with its charts and
downloads. Every object is fetched for the current organization or 404s."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.text import slugify
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from capabilities.models import Job
from capabilities.reports import actions, charts, exports, narrative, queries, sources
from capabilities.reports.forms import MappingForm, UploadForm
from capabilities.reports.models import FIELD_LABELS, Report, UploadSet
from capabilities.reports.tables import UploadSetTable
from portal.access import OrgRequest, get_for_org, org_role_required
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.htmx import wants_partial
from portal.models import USING_ROLES
from portal.uploads import accepts_uploads


@accepts_uploads(sources.upload_limits)
@org_role_required()
def index(request: OrgRequest) -> HttpResponse:
    """The organization's upload sets and recent reports; POST uploads a new set."""
    form = UploadForm()
    if request.method == "POST":
        if request.membership.role not in USING_ROLES:
            messages.error(request, "Billing users can read reports but not upload spreadsheets.")
            return redirect("reports:index")
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                upload_set = actions.create_upload_set(
                    request.user,
                    request.organization,
                    name=form.cleaned_data["name"],
                    files=form.cleaned_data["spreadsheets"],
                    origin=origin_of(request),
                )
            except actions.UploadRefused as refused:
                for problem in refused.problems:
                    form.add_error("spreadsheets", problem)
            else:
                messages.success(request, "Uploaded. Check the column mapping, then build the report.")
                return redirect("reports:upload_set", upload_set_id=upload_set.pk)
    table = UploadSetTable(queries.upload_sets(request.organization))
    RequestConfig(request, paginate={"per_page": 25}).configure(table)
    return render(
        request,
        "reports/index.html",
        {
            "form": form,
            "table": table,
            "recent_reports": queries.reports(request.organization)[:10],
            "can_upload": request.membership.role in USING_ROLES,
        },
        status=400 if form.errors else 200,
    )


@org_role_required()
def upload_set(request: OrgRequest, upload_set_id: int) -> HttpResponse:
    """The files with a preview of their first rows, and the mapping form."""
    found = get_for_org(request, UploadSet.objects.all(), pk=upload_set_id)
    headers = actions.headers_of(found)
    form = MappingForm(
        headers=headers,
        initial={
            **queries.proposed_mapping(found),
            "date_order": found.date_order,
            "currency": found.currency,
        },
    )
    status = 200
    if request.method == "POST":
        if request.membership.role not in USING_ROLES:
            messages.error(request, "Billing users can read reports but not change them.")
            return redirect("reports:upload_set", upload_set_id=found.pk)
        form = MappingForm(request.POST, headers=headers)
        if form.is_valid():
            try:
                actions.set_mapping(
                    request.user,
                    found,
                    mapping=form.mapping(),
                    date_order=form.cleaned_data["date_order"],
                    currency=form.cleaned_data["currency"],
                    origin=origin_of(request),
                )
            except ActionError as refusal:
                form.add_error(None, refusal.message)
            else:
                messages.success(request, "Mapping saved. You can build the report.")
                return redirect("reports:upload_set", upload_set_id=found.pk)
        status = 400
    return render(
        request,
        "reports/upload_set.html",
        {
            "upload_set": found,
            "files": list(found.files.all()),
            "form": form,
            "field_labels": FIELD_LABELS,
            "reports": queries.reports(request.organization).filter(upload_set=found)[:20],
            "can_change": request.membership.role in USING_ROLES,
        },
        status=status,
    )


@org_role_required(*USING_ROLES)
@require_POST
def build(request: OrgRequest, upload_set_id: int) -> HttpResponse:
    found = get_for_org(request, UploadSet.objects.all(), pk=upload_set_id)
    try:
        report = actions.start_report(request.user, found, origin=origin_of(request))
    except ActionError as refusal:
        messages.error(request, refusal.message)
        return redirect("reports:upload_set", upload_set_id=found.pk)
    messages.success(request, f"Report #{report.pk} is being built.")
    return redirect("reports:report", report_id=report.pk)


def _report_for(request: OrgRequest, report_id: int) -> Report:
    return get_for_org(request, Report.objects.select_related("job", "upload_set"), pk=report_id)


@org_role_required()
def report(request: OrgRequest, report_id: int) -> HttpResponse:
    """The report; while it builds, its status partial polls (htmx) and the
    whole page reloads once it is ready."""
    found = _report_for(request, report_id)
    figures = found.figures
    context = {
        "report": found,
        "job": found.job,
        "figures": figures,
        "summary": narrative.summary_of(figures) if figures else None,
        "revenue_chart": charts.revenue_chart(figures) if figures else None,
        "units_chart": charts.units_chart(figures) if figures else None,
    }
    if wants_partial(request):
        response = render(request, "reports/report.html#report-status", context)
        if found.job is None or found.job.is_finished:
            response["HX-Refresh"] = "true"  # the finished report is a different page: load it whole
    else:
        response = render(request, "reports/report.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _download(found: Report, content: bytes, content_type: str, extension: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    name = slugify(found.upload_set.name) or "sales"
    response["Content-Disposition"] = f'attachment; filename="report-{found.pk}-{name}.{extension}"'
    return response


def _built(request: OrgRequest, report_id: int) -> Report:
    found = _report_for(request, report_id)
    if found.job is None or found.job.status != Job.Status.SUCCEEDED:
        raise Http404("This report has not been built.")
    return found


@org_role_required()
def report_xlsx(request: OrgRequest, report_id: int) -> HttpResponse:
    found = _built(request, report_id)
    content = exports.xlsx_bytes(found.upload_set.name, found.figures)
    return _download(
        found, content, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"
    )


@org_role_required()
def report_pdf(request: OrgRequest, report_id: int) -> HttpResponse:
    found = _built(request, report_id)
    return _download(found, exports.pdf_bytes(found.upload_set.name, found.figures), "application/pdf", "pdf")
