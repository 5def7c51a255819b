"""Read models of the tenancy pages and API."""

from django.db.models import Count, QuerySet
from django.utils import timezone

from portal.models import AuditEntry, Invitation, Membership, Organization, OrganizationAPIKey


def members_of(organization: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(organization=organization).select_related("user").order_by("user__email")


def pending_invitations_of(organization: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        organization=organization,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).select_related("invited_by")


def api_keys_of(organization: Organization) -> QuerySet[OrganizationAPIKey]:
    return (
        OrganizationAPIKey.objects.filter(organization=organization)
        .select_related("created_by")
        .order_by("revoked", "-created")
    )


def tenants() -> QuerySet[Organization]:
    return Organization.objects.annotate(members=Count("memberships", distinct=True)).order_by("name")


def recent_activity(organization: Organization, limit: int = 8) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(organization=organization).order_by("-at", "-id")[:limit]


def audit_log() -> QuerySet[AuditEntry]:
    return AuditEntry.objects.select_related("organization").order_by("-at", "-id")
