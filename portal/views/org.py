"""Pages of an organization's own users: home, members and invitations, API
keys, and switching between organizations."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from portal import queries
from portal.access import AuthenticatedRequest, OrgRequest, get_for_org, org_role_required
from portal.actions import api_keys as key_actions
from portal.actions import invitations, memberships
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.forms import ApiKeyForm, InviteForm, RoleForm
from portal.htmx import wants_partial
from portal.middleware import SESSION_KEY
from portal.models import MANAGING_ROLES, Invitation, Membership, OrganizationAPIKey, Role


@org_role_required()
def overview(request: OrgRequest) -> HttpResponse:
    organization = request.organization
    return render(
        request,
        "portal/overview.html",
        {
            "member_count": queries.members_of(organization).count(),
            "pending_count": queries.pending_invitations_of(organization).count(),
            "activity": queries.recent_activity(organization),
        },
    )


@login_required
@require_POST
def switch_organization(request: AuthenticatedRequest) -> HttpResponse:
    membership = (
        Membership.objects.filter(user=request.user, organization__slug=request.POST.get("organization", ""))
        .select_related("organization")
        .first()
    )
    if membership is None:
        messages.error(request, "You are not a member of that organization.")
    else:
        request.session[SESSION_KEY] = membership.organization_id
        messages.success(request, f"You are now working in {membership.organization.name}.")
    return redirect("home")


@org_role_required()
def members(request: OrgRequest) -> HttpResponse:
    organization = request.organization
    can_manage = request.membership.can_manage
    invite_form = InviteForm()
    if request.method == "POST":
        if not can_manage:
            return render(
                request, "403.html", {"exception": "Only owners and admins invite members."}, status=403
            )
        invite_form = InviteForm(request.POST)
        if invite_form.is_valid():
            try:
                invitation = invitations.invite_member(
                    request.user,
                    organization,
                    email=invite_form.cleaned_data["email"],
                    role=invite_form.cleaned_data["role"],
                    origin=origin_of(request),
                )
            except ActionError as error:
                invite_form.add_error("email", error.message)
            else:
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect("members")
    return render(
        request,
        "portal/members.html",
        {
            "memberships": queries.members_of(organization),
            "invitations": queries.pending_invitations_of(organization),
            "invite_form": invite_form,
            "can_manage": can_manage,
            "roles": Role.choices,
        },
        status=400 if invite_form.errors else 200,
    )


@org_role_required(*MANAGING_ROLES)
@require_POST
def change_role(request: OrgRequest, membership_id: int) -> HttpResponse:
    membership = get_for_org(request, Membership.objects.select_related("user"), pk=membership_id)
    form = RoleForm(request.POST)
    error = None
    if not form.is_valid():
        error = "Choose one of the listed roles."
    else:
        try:
            membership = memberships.change_member_role(
                request.user,
                membership,
                role=form.cleaned_data["role"],
                origin=origin_of(request),
            )
        except ActionError as action_error:
            error = action_error.message
    if wants_partial(request):
        membership.refresh_from_db()
        return render(
            request,
            "portal/members.html#member-row",
            {
                "membership": membership,
                "can_manage": True,
                "roles": Role.choices,
                "row_error": error,
                "row_saved": error is None,
            },
            status=400 if error else 200,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{membership.user.email} is now {membership.get_role_display()}.")
    return redirect("members")


@org_role_required(*MANAGING_ROLES)
@require_POST
def remove_member(request: OrgRequest, membership_id: int) -> HttpResponse:
    membership = get_for_org(request, Membership.objects.select_related("user"), pk=membership_id)
    try:
        memberships.remove_member(request.user, membership, origin=origin_of(request))
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"{membership.user.email} no longer belongs to {membership.organization.name}."
        )
    return redirect("members")


@org_role_required(*MANAGING_ROLES)
@require_POST
def revoke_invitation(request: OrgRequest, invitation_id: int) -> HttpResponse:
    invitation = get_for_org(request, Invitation.objects.all(), pk=invitation_id)
    try:
        invitations.revoke_invitation(request.user, invitation, origin=origin_of(request))
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"The invitation of {invitation.email} is revoked.")
    return redirect("members")


# The new key's secret waits here between the POST and the one GET that shows
# it (POST/redirect/GET: reloading the page never creates a second key).
NEW_API_KEY_SESSION_KEY = "new_api_key"


@org_role_required(*MANAGING_ROLES)
def api_keys(request: OrgRequest) -> HttpResponse:
    organization = request.organization
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            api_key, secret = key_actions.create_api_key(
                request.user,
                organization,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_on=form.cleaned_data["expires_on"],
                origin=origin_of(request),
            )
        except ActionError as error:
            form.add_error("expires_on" if error.code == "expiry_in_past" else "scope", error.message)
        else:
            request.session[NEW_API_KEY_SESSION_KEY] = {"organization_id": organization.pk, "secret": secret}
            messages.success(
                request, f"API key “{api_key.name}” created. Copy it now: it is shown only once."
            )
            return redirect("api_keys")
    # Popped on the first GET whatever the organization, so the secret never
    # lingers in the session; shown only in the organization it belongs to.
    waiting = request.session.pop(NEW_API_KEY_SESSION_KEY, None) if request.method == "GET" else None
    new_secret = waiting["secret"] if waiting and waiting["organization_id"] == organization.pk else None
    api_keys = list(queries.api_keys_of(organization))
    return render(
        request,
        "portal/api_keys.html",
        {
            "api_keys": api_keys,
            "form": form,
            "new_secret": new_secret,
            "migrated_keys": [key for key in api_keys if key.scope_migrated and not key.revoked],
        },
        status=400 if form.errors else 200,
    )


@org_role_required(*MANAGING_ROLES)
@require_POST
def review_api_keys(request: OrgRequest) -> HttpResponse:
    """Dismisses the notice about keys that became `manage` when scopes came."""
    count = key_actions.review_migrated_api_keys(
        request.user, request.organization, origin=origin_of(request)
    )
    if count:
        messages.success(request, "Noted: those keys keep the manage scope. Revoke any that need less.")
    return redirect("api_keys")


@org_role_required(*MANAGING_ROLES)
@require_POST
def revoke_api_key(request: OrgRequest, key_prefix: str) -> HttpResponse:
    api_key = get_for_org(request, OrganizationAPIKey.objects.all(), prefix=key_prefix)
    try:
        key_actions.revoke_api_key(request.user, api_key, origin=origin_of(request))
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"API key “{api_key.name}” is revoked; requests using it now fail.")
    return redirect("api_keys")
