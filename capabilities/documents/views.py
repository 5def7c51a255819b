"""Pages of Documents: the list with the upload form, a document with its
fields and pages (its status follows the extraction job through htmx), one
page with the search words marked, and the search page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from capabilities.documents import actions, queries, search
from capabilities.documents.extraction import ocr_available
from capabilities.documents.forms import SearchForm, UploadForm, upload_limits
from capabilities.documents.tables import DocumentTable
from portal.access import OrgRequest, get_for_org, org_role_required
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.htmx import page_or_partial
from portal.models import USING_ROLES
from portal.uploads import accepts_uploads, refused_uploads


@org_role_required()
def index(request: OrgRequest) -> HttpResponse:
    table = DocumentTable(queries.documents(request.organization))
    RequestConfig(request, paginate={"per_page": 25}).configure(table)
    return render(
        request,
        "documents/index.html",
        {
            "table": table,
            "upload_form": UploadForm(),
            "search_form": SearchForm(),
            "can_upload": request.membership.role in USING_ROLES,
            "ocr_available": ocr_available(),
        },
    )


@accepts_uploads(upload_limits)
@org_role_required(*USING_ROLES)
@require_POST
def upload(request: OrgRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    refused = refused_uploads(request)  # over the size limit: skipped while the body streamed
    if not form.is_valid() and not refused:
        for errors in form.errors.values():
            messages.error(request, " ".join(str(error) for error in errors))
        return redirect("documents:index")
    files = form.cleaned_data.get("files", []) if form.is_valid() else []
    try:
        result = actions.upload_documents(
            request.user, request.organization, files, origin=origin_of(request), refused=refused
        )
    except ActionError as refusal:
        messages.error(request, refusal.message)
        return redirect("documents:index")
    for rejection in result.rejected:
        messages.error(request, f"{rejection.name} was not uploaded: {rejection.message}")
    if len(result.documents) == 1:
        messages.success(request, f"{result.documents[0].name} is uploaded; its text is being read.")
        return redirect("documents:document", document_id=result.documents[0].pk)
    if result.documents:
        messages.success(
            request, f"{len(result.documents)} documents are uploaded; their text is being read."
        )
    return redirect("documents:index")


@org_role_required()
def document_detail(request: OrgRequest, document_id: int) -> HttpResponse:
    document = get_for_org(request, queries.documents(request.organization), pk=document_id)
    context: dict[str, Any] = {
        "document": document,
        "job": document.job,
        "ocr_available": ocr_available(),
        "pages": queries.pages(document),
    }
    # htmx polls the body while the extraction runs; the answer that finds it
    # done carries the pages and fields, and no more polling.
    template = page_or_partial(request, "documents/document.html", "document-body")
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@org_role_required()
def page_detail(request: OrgRequest, document_id: int, number: int) -> HttpResponse:
    document = get_for_org(request, queries.documents(request.organization), pk=document_id)
    page = queries.pages(document).filter(number=number).first()
    if page is None:
        raise Http404("No such page")
    query = request.GET.get("q", "")[:200]
    # ?start=S&end=E marks the characters S to E (a quote cited elsewhere).
    span = _span(request)
    marked = search.mark_span(page, *span) if span else None
    return render(
        request,
        "documents/page.html",
        {
            "document": document,
            "page": page,
            "query": query,
            "quoted": marked is not None,
            "marked_text": marked if marked is not None else search.highlight(page, query),
            "previous": number - 1 if number > 1 else None,
            "next": number + 1 if number < document.page_count else None,
        },
    )


def _span(request: OrgRequest) -> tuple[int, int] | None:
    try:
        return int(request.GET["start"]), int(request.GET["end"])
    except (KeyError, ValueError):
        return None


@org_role_required()
def download(request: OrgRequest, document_id: int) -> HttpResponse:
    document = get_for_org(request, queries.documents(request.organization), pk=document_id)
    try:
        stored = document.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing from storage") from None
    response: HttpResponse = FileResponse(stored, as_attachment=True, filename=document.name)  # type: ignore[assignment]  # a streaming response, as the decorator's type allows
    return response


@org_role_required()
def search_page(request: OrgRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    hits: list[search.Hit] = []
    query = ""
    if form.is_valid():
        query = form.cleaned_data["q"].strip()
        if search.has_terms(query):
            hits = search.search(request.organization.pk, query)
            actions.record_search(request.organization, request.user, query)
    template = page_or_partial(request, "documents/search.html", "results")
    response = render(request, template, {"form": form, "query": query, "hits": hits})
    patch_vary_headers(response, ["HX-Request"])
    return response
