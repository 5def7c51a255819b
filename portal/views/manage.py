"""IT admin pages under /manage/: tenants, their members and roles, suspension,
the audit log and platform health."""

from datetime import datetime

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers
from django_tables2 import RequestConfig
from redis.exceptions import RedisError

from portal import queries
from portal.access import AuthenticatedRequest, platform_required
from portal.actions import invitations, memberships
from portal.actions import organizations as organization_actions
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.filtersets import AuditFilter, OrganizationFilter
from portal.forms import InviteForm, OrganizationCreateForm, RoleForm, SuspendForm
from portal.health import sections as health_sections
from portal.htmx import page_or_partial
from portal.models import Invitation, Membership, Organization, Role
from portal.tables import AuditTable, OrganizationTable
from portal.tasks import HEARTBEAT_KEY
from portal.views.health import check_broker, check_cache, check_database


@platform_required(finance=True)
@vary_on_headers("HX-Request")  # the same URL answers with the page or the table
def organizations(request: AuthenticatedRequest) -> HttpResponse:
    filterset = OrganizationFilter(request.GET or None, queryset=queries.tenants())
    table = OrganizationTable(filterset.qs)
    RequestConfig(request, paginate={"per_page": 25}).configure(table)
    counts = {
        "total": Organization.objects.count(),
        "suspended": Organization.objects.filter(status=Organization.Status.SUSPENDED).count(),
    }
    template = page_or_partial(request, "manage/organizations.html", "tenant-table")
    return render(request, template, {"filter": filterset, "table": table, "counts": counts})


@platform_required()
def create_organization(request: AuthenticatedRequest) -> HttpResponse:
    form = OrganizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organization, invitation = organization_actions.create_organization(
                request.user,
                name=form.cleaned_data["name"],
                slug=form.cleaned_data["slug"],
                owner_email=form.cleaned_data["owner_email"],
                origin=origin_of(request),
            )
        except ActionError as error:
            form.add_error("slug", error.message)
        else:
            if invitation:
                messages.success(
                    request, f"{organization.name} created. {invitation.email} is invited as its owner."
                )
            else:
                messages.success(request, f"{organization.name} created with its owner.")
            return redirect("manage:organization", slug=organization.slug)
    return render(
        request, "manage/organization_form.html", {"form": form}, status=400 if form.errors else 200
    )


def _organization(slug: str) -> Organization:
    return get_object_or_404(Organization, slug=slug)


@platform_required(finance=True)
def organization_detail(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    organization = _organization(slug)
    return render(
        request,
        "manage/organization_detail.html",
        {
            "organization": organization,
            "memberships": queries.members_of(organization),
            "invitations": queries.pending_invitations_of(organization),
            "activity": queries.recent_activity(organization, limit=15),
            "suspend_form": SuspendForm(),
            "invite_form": InviteForm(),
            "roles": Role.choices,
        },
    )


@platform_required()
@require_POST
def suspend_organization(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    organization = _organization(slug)
    form = SuspendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for the suspension: the organization's users will see it.")
        return redirect("manage:organization", slug=slug)
    try:
        organization_actions.suspend_organization(
            request.user,
            organization,
            reason=form.cleaned_data["reason"],
            origin=origin_of(request),
        )
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"{organization.name} is suspended. Its users can no longer use the portal."
        )
    return redirect("manage:organization", slug=slug)


@platform_required()
@require_POST
def reactivate_organization(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    organization = _organization(slug)
    try:
        organization_actions.reactivate_organization(request.user, organization, origin=origin_of(request))
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{organization.name} is active again.")
    return redirect("manage:organization", slug=slug)


@platform_required()
@require_POST
def invite(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    organization = _organization(slug)
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a valid email address and role.")
        return redirect("manage:organization", slug=slug)
    try:
        invitation = invitations.invite_member(
            request.user,
            organization,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            origin=origin_of(request),
        )
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Invitation sent to {invitation.email}.")
    return redirect("manage:organization", slug=slug)


@platform_required()
@require_POST
def change_role(request: AuthenticatedRequest, slug: str, membership_id: int) -> HttpResponse:
    organization = _organization(slug)
    membership = get_object_or_404(Membership, organization=organization, pk=membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed roles.")
        return redirect("manage:organization", slug=slug)
    try:
        membership = memberships.change_member_role(
            request.user,
            membership,
            role=form.cleaned_data["role"],
            origin=origin_of(request),
        )
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{membership.user.email} is now {membership.get_role_display()}.")
    return redirect("manage:organization", slug=slug)


@platform_required()
@require_POST
def remove_member(request: AuthenticatedRequest, slug: str, membership_id: int) -> HttpResponse:
    organization = _organization(slug)
    membership = get_object_or_404(
        Membership.objects.select_related("user"), organization=organization, pk=membership_id
    )
    try:
        memberships.remove_member(request.user, membership, origin=origin_of(request))
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{membership.user.email} removed from {organization.name}.")
    return redirect("manage:organization", slug=slug)


@platform_required()
@require_POST
def revoke_invitation(request: AuthenticatedRequest, slug: str, invitation_id: int) -> HttpResponse:
    organization = _organization(slug)
    invitation = get_object_or_404(Invitation, organization=organization, pk=invitation_id)
    try:
        invitations.revoke_invitation(request.user, invitation, origin=origin_of(request))
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"The invitation of {invitation.email} is revoked.")
    return redirect("manage:organization", slug=slug)


@platform_required()
@vary_on_headers("HX-Request")
def audit_log(request: AuthenticatedRequest) -> HttpResponse:
    filterset = AuditFilter(request.GET or None, queryset=queries.audit_log())
    table = AuditTable(filterset.qs if filterset.is_bound else queries.audit_log())
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    template = page_or_partial(request, "manage/audit_log.html", "audit-table")
    return render(request, template, {"filter": filterset, "table": table})


@platform_required()
def health(request: AuthenticatedRequest) -> HttpResponse:
    checks = {
        "Database": check_database(),
        "Broker": check_broker(),
        "Cache": check_cache(),
    }
    try:
        heartbeat = cache.get(HEARTBEAT_KEY)
    except RedisError:  # the cache is away: its check above says so, the page still shows
        heartbeat = None
    heartbeat_age = None
    if heartbeat:
        heartbeat_age = (timezone.now() - datetime.fromisoformat(heartbeat)).total_seconds()
    return render(
        request,
        "manage/health.html",
        {
            "checks": checks,
            "heartbeat": heartbeat and datetime.fromisoformat(heartbeat),
            "heartbeat_age": heartbeat_age,
            "heartbeat_stale": heartbeat_age is None or heartbeat_age > 120,
            "sections": health_sections(),
        },
    )
