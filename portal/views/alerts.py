"""Pages of an organization's alerts: its settings page (the alerts webhook,
for owners and admins) and dismissing an alert from the banner (for the
owners and billing members who get alerts)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal import alerts
from portal.access import OrgRequest, get_for_org, org_role_required
from portal.actions import alerts as alert_actions
from portal.audit import origin_of
from portal.forms import AlertWebhookForm
from portal.htmx import wants_partial
from portal.models import MANAGING_ROLES, Alert, AlertWebhook

NEW_WEBHOOK_SECRET_SESSION_KEY = "new_alert_webhook_secret"  # noqa: S105  (a session key name, not a secret)


def _webhook_of(request: OrgRequest) -> AlertWebhook | None:
    return AlertWebhook.objects.filter(organization=request.organization).first()


def _show_secret_once(request: OrgRequest, secret: str) -> None:
    request.session[NEW_WEBHOOK_SECRET_SESSION_KEY] = {
        "organization_id": request.organization.pk,
        "secret": secret,
    }


@org_role_required(*MANAGING_ROLES)
def organization_settings(request: OrgRequest) -> HttpResponse:
    organization = request.organization
    webhook = _webhook_of(request)
    form = AlertWebhookForm(request.POST or None, initial={"url": webhook.url if webhook else ""})
    if request.method == "POST" and form.is_valid():
        webhook, secret = alert_actions.set_alert_webhook(
            request.user, organization, url=form.cleaned_data["url"], origin=origin_of(request)
        )
        if secret:
            _show_secret_once(request, secret)
            messages.success(
                request, "Alerts webhook saved. Copy its signing secret now: it is shown only once."
            )
        else:
            messages.success(request, "Alerts webhook URL changed; the signing secret is the same.")
        return redirect("organization_settings")
    # Popped on the first GET whatever the organization, so the secret never
    # lingers in the session; shown only in the organization it belongs to.
    waiting = request.session.pop(NEW_WEBHOOK_SECRET_SESSION_KEY, None) if request.method == "GET" else None
    new_secret = waiting["secret"] if waiting and waiting["organization_id"] == organization.pk else None
    return render(
        request,
        "portal/settings.html",
        {
            "webhook": webhook,
            "form": form,
            "new_secret": new_secret,
            "last_call": alerts.last_webhook_call(organization) if webhook else None,
        },
        status=400 if form.errors else 200,
    )


@org_role_required(*MANAGING_ROLES)
@require_POST
def rotate_webhook_secret(request: OrgRequest) -> HttpResponse:
    webhook = _webhook_of(request)
    if webhook is None:
        messages.error(request, "There is no alerts webhook to rotate the secret of; save a URL first.")
        return redirect("organization_settings")
    secret = alert_actions.rotate_alert_webhook_secret(request.user, webhook, origin=origin_of(request))
    _show_secret_once(request, secret)
    messages.success(
        request,
        "New signing secret made. Copy it now: it is shown only once; the old one no longer verifies.",
    )
    return redirect("organization_settings")


@org_role_required(*MANAGING_ROLES)
@require_POST
def remove_webhook(request: OrgRequest) -> HttpResponse:
    webhook = _webhook_of(request)
    if webhook is not None:
        alert_actions.remove_alert_webhook(request.user, webhook, origin=origin_of(request))
        messages.success(request, "Alerts webhook removed. Alerts still come by email and in the banner.")
    return redirect("organization_settings")


@org_role_required(*alerts.ALERTED_ROLES)
@require_POST
def dismiss_alert(request: OrgRequest, alert_id: int) -> HttpResponse:
    alert = get_for_org(request, Alert.objects.select_related("organization"), pk=alert_id)
    alert_actions.dismiss_alert(request.user, alert, origin=origin_of(request))
    if wants_partial(request):
        return HttpResponse("")  # htmx swaps the alert out of the banner
    # Without JavaScript: back to the page the banner was on.
    back = request.headers.get("Referer", "")
    if url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("home")
