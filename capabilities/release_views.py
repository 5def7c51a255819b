"""Choosing the release a capability runs: the channel, from the
capability's page (owners and admins), and a pinned version, from an
organization's capabilities page under /manage/ (IT admins)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from capabilities import releases
from capabilities.registry import CHANNELS, registry
from capabilities.views import _installed
from portal.access import AuthenticatedRequest, OrgRequest, org_role_required, platform_required
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.models import MANAGING_ROLES, Organization


class ChannelForm(forms.Form):
    channel = forms.ChoiceField(choices=list(CHANNELS.items()))


class PinForm(forms.Form):
    """An IT admin's choice: a version to pin, or "" to follow the channel again."""

    version = forms.CharField(max_length=40, required=False)
    reason = forms.CharField(max_length=300, required=False)


@org_role_required(*MANAGING_ROLES)
@require_POST
def choose_channel(request: OrgRequest, key: str) -> HttpResponse:
    _installed(key)
    form = ChannelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose stable or beta.")
        return redirect("capability", key=key)
    try:
        now = releases.set_channel(
            request.user, request.organization, key, form.cleaned_data["channel"], origin=origin_of(request)
        )
    except ActionError as refusal:
        messages.error(request, refusal.message)
    else:
        title = registry().get(key).title
        messages.success(
            request,
            f"{title} runs version {now.version.number} ({now.channel_label.lower()}) for your new jobs; "
            "jobs already queued keep the version they were queued with.",
        )
    return redirect("capability", key=key)


@platform_required()
@require_POST
def manage_pin(request: AuthenticatedRequest, slug: str, key: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=slug)
    _installed(key)
    form = PinForm(request.POST)
    title = registry().get(key).title
    if not form.is_valid():
        messages.error(request, "The reason is at most 300 characters.")
        return redirect("manage:capabilities", slug=slug)
    version, reason = form.cleaned_data["version"].strip(), form.cleaned_data["reason"]
    try:
        if version:
            releases.pin_version(
                request.user, organization, key, version, reason=reason, origin=origin_of(request)
            )
            messages.success(
                request, f"{organization.name} runs {title} {version}, pinned, from its next job."
            )
        else:
            now = releases.unpin_version(
                request.user, organization, key, reason=reason, origin=origin_of(request)
            )
            messages.success(
                request,
                f"{title} follows {organization.name}'s channel again: version {now.version.number} "
                f"({now.channel_label.lower()}).",
            )
    except ActionError as refusal:
        messages.error(request, refusal.message)
    return redirect("manage:capabilities", slug=slug)
