"""Pages of Document Q&A: the question box with the answer (htmx), the
indexing state (followed while an indexing job runs) and recent questions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from capabilities.qa import actions, queries
from capabilities.qa.forms import AskForm
from capabilities.registry import registry
from portal.access import OrgRequest, org_role_required
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.htmx import page_or_partial, wants_partial
from portal.models import USING_ROLES


def _context(request: OrgRequest, **extra: Any) -> dict[str, Any]:
    prices = {meter.key: meter for meter in registry().get("qa").priced_meters}
    return {
        "form": AskForm(organization=request.organization),
        "state": queries.index_state(request.organization),
        "recent": queries.recent_questions(request.organization),
        "can_ask": request.membership.role in USING_ROLES,
        "question_price": prices["questions"],
        **extra,
    }


@org_role_required()
def index(request: OrgRequest) -> HttpResponse:
    return render(request, "qa/index.html", _context(request))


@org_role_required(*USING_ROLES)
@require_POST
def ask(request: OrgRequest) -> HttpResponse:
    form = AskForm(request.POST, organization=request.organization)
    result = error = None
    if form.is_valid():
        try:
            _stored, result = actions.ask_question(
                request.user,
                request.organization,
                form.cleaned_data["question"],
                documents=list(form.cleaned_data["documents"]),
                origin=origin_of(request),
            )
        except ActionError as refusal:
            error = refusal.message
    else:
        error = " ".join(str(message) for messages in form.errors.values() for message in messages)
    # The answer, and the recent questions out of band (the new one on top).
    template = page_or_partial(request, "qa/index.html", "ask-response")
    context = _context(request, result=result, error=error, asked=form.data.get("question", ""))
    context["form"] = form
    response = render(request, template, context, status=400 if error else 200)
    patch_vary_headers(response, ["HX-Request"])
    return response


@org_role_required()
def status(request: OrgRequest) -> HttpResponse:
    """The indexing state, polled by the page while an indexing job runs;
    opened as a page of its own (not by htmx), the whole page that holds it."""
    if not wants_partial(request):
        return render(request, "qa/index.html", _context(request))
    response = render(
        request,
        "qa/index.html#index-status",
        {
            "state": queries.index_state(request.organization),
            "can_ask": request.membership.role in USING_ROLES,
        },
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


@org_role_required(*USING_ROLES)
@require_POST
def index_documents(request: OrgRequest) -> HttpResponse:
    try:
        job = actions.index_existing(request.organization, request.user)
    except ActionError as refusal:
        messages.error(request, refusal.message)
        return redirect("qa:index")
    if job is None:
        messages.info(request, "Every document with text is indexed already.")
    else:
        messages.success(request, "Your documents are being indexed; you can ask about them in a moment.")
    return redirect("qa:index")
