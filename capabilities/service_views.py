"""IT admin pages of external capabilities, under /manage/capabilities/:
the list, registering one, its page (declaration, credentials, health) with
changing, retiring, and issuing, rotating and revoking credentials."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from capabilities import queries, services
from capabilities.models import ExternalCapability, ServiceCredential
from capabilities.monitoring import service_checks
from capabilities.registry import registry, service_of
from capabilities.service_forms import (
    CredentialForm,
    RetireForm,
    ServiceForm,
    meter_formset,
    place_errors,
    spec_of_forms,
)
from portal.access import AuthenticatedRequest, platform_required
from portal.actions.errors import ActionError
from portal.audit import origin_of

NEW_CREDENTIAL_SESSION_KEY = "new_service_credential"


@platform_required(finance=True)
def service_list(request: AuthenticatedRequest) -> HttpResponse:
    every = list(queries.external_capabilities())
    return render(
        request,
        "capabilities/services/list.html",
        {
            "services": every,
            "in_service": sum(1 for service in every if not service.is_retired),
            "retired": sum(1 for service in every if service.is_retired),
            "apps": len(registry().apps()),
        },
    )


@platform_required()
def service_register(request: AuthenticatedRequest) -> HttpResponse:
    form = ServiceForm(request.POST or None)
    formset = meter_formset(request.POST or None)
    meter_errors: list[str] = []
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        try:
            service = services.register(request.user, spec_of_forms(form, formset), origin=origin_of(request))
        except services.InvalidService as refusal:
            meter_errors = place_errors(form, refusal.errors)
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                f"{service.name} is registered and in the catalog. Issue its service a credential below.",
            )
            return redirect("manage:service", key=service.key)
    return render(
        request,
        "capabilities/services/form.html",
        {"form": form, "formset": formset, "meter_errors": meter_errors, "service": None},
        status=400 if request.method == "POST" else 200,
    )


def _service(key: str) -> ExternalCapability:
    return get_object_or_404(ExternalCapability, key=key)


@platform_required(finance=True)
def service_detail(request: AuthenticatedRequest, key: str) -> HttpResponse:
    service = _service(key)
    entry = service_of(service)
    # Popped on the first GET, so the secret never lingers in the session.
    waiting = request.session.pop(NEW_CREDENTIAL_SESSION_KEY, None)
    new_secret = waiting["secret"] if waiting and waiting.get("service") == service.pk else None
    return render(
        request,
        "capabilities/services/detail.html",
        {
            "service": service,
            "entry": entry,
            "dependencies": [registry().title_of(dependency) for dependency in entry.dependencies],
            "dependents": [registry().title_of(other) for other in registry().dependents(service.key)]
            if service.key in registry()
            else [],
            "organizations_on": getattr(
                queries.external_capabilities().get(pk=service.pk), "organizations_on", 0
            ),
            "credentials": queries.service_credentials(service),
            "credential_form": CredentialForm(),
            "retire_form": RetireForm(),
            "new_secret": new_secret,
            "check": None if service.is_retired else service_checks([entry]).get(service.key),
        },
    )


@platform_required()
def service_change(request: AuthenticatedRequest, key: str) -> HttpResponse:
    service = _service(key)
    if service.is_retired:
        messages.error(request, f"{service.name} is retired; it can't be changed.")
        return redirect("manage:service", key=service.key)
    spec = services.spec_of(service)
    initial = {
        "key": spec.key,
        "name": spec.name,
        "summary": spec.summary,
        "category": spec.category,
        "version": spec.version,
        "beta_version": spec.beta_version,
        "beta_notes": spec.beta_notes,
        "documentation_url": spec.documentation_url,
        "health_url": spec.health_url,
        "dependencies": spec.dependencies,
    }
    form = ServiceForm(request.POST or None, initial=initial, service=service)
    formset = meter_formset(request.POST or None, service=service)
    meter_errors: list[str] = []
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        try:
            services.change(request.user, service, spec_of_forms(form, formset), origin=origin_of(request))
        except services.InvalidService as refusal:
            meter_errors = place_errors(form, refusal.errors)
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"{service.name} is changed.")
            return redirect("manage:service", key=service.key)
    return render(
        request,
        "capabilities/services/form.html",
        {"form": form, "formset": formset, "meter_errors": meter_errors, "service": service},
        status=400 if request.method == "POST" else 200,
    )


@platform_required()
@require_POST
def service_retire(request: AuthenticatedRequest, key: str) -> HttpResponse:
    service = _service(key)
    form = RetireForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why it is retired: the organizations that used it see the reason.")
        return redirect("manage:service", key=service.key)
    try:
        switched_off = services.retire(
            request.user, service, reason=form.cleaned_data["reason"], origin=origin_of(request)
        )
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"{service.name} is retired: out of the catalog, switched off for {switched_off} "
            f"organization{'s' if switched_off != 1 else ''}, its credentials revoked. Its usage and "
            "history stay.",
        )
    return redirect("manage:service", key=service.key)


@platform_required()
@require_POST
def credential_issue(request: AuthenticatedRequest, key: str) -> HttpResponse:
    service = _service(key)
    form = CredentialForm(request.POST)
    name = form.cleaned_data["name"] if form.is_valid() else ""
    try:
        credential, secret = services.issue_credential(
            request.user, service, name=name, origin=origin_of(request)
        )
    except ActionError as error:
        messages.error(request, error.message)
    else:
        request.session[NEW_CREDENTIAL_SESSION_KEY] = {"service": service.pk, "secret": secret}
        messages.success(
            request, f"Credential “{credential.name}” issued. Copy it now: it is shown only once."
        )
    return redirect(reverse("manage:service", kwargs={"key": service.key}) + "#credentials")


def _credential(service: ExternalCapability, prefix: str) -> ServiceCredential:
    credential = service.credentials.filter(prefix=prefix).first()
    if credential is None:
        raise Http404("No such credential")
    return credential


@platform_required()
@require_POST
def credential_revoke(request: AuthenticatedRequest, key: str, prefix: str) -> HttpResponse:
    service = _service(key)
    credential = _credential(service, prefix)
    try:
        services.revoke_credential(request.user, credential, origin=origin_of(request))
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"Credential “{credential.name}” revoked: it stops working within a second."
        )
    return redirect(reverse("manage:service", kwargs={"key": service.key}) + "#credentials")


@platform_required()
@require_POST
def credential_rotate(request: AuthenticatedRequest, key: str, prefix: str) -> HttpResponse:
    service = _service(key)
    credential = _credential(service, prefix)
    try:
        fresh, secret = services.rotate_credential(request.user, credential, origin=origin_of(request))
    except ActionError as error:
        messages.error(request, error.message)
    else:
        request.session[NEW_CREDENTIAL_SESSION_KEY] = {"service": service.pk, "secret": secret}
        messages.success(
            request,
            f"Credential “{fresh.name}” rotated: the old secret stopped working; copy the new one now.",
        )
    return redirect(reverse("manage:service", kwargs={"key": service.key}) + "#credentials")
