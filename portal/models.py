"""Tenancy: users, organizations, memberships and roles, invitations, API keys
and the append-only audit log."""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone
from rest_framework_api_key.models import AbstractAPIKey

from portal.append_only import AppendOnlyModel


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("Users need an email address")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, username: str | None) -> User:
        # Sign-in by email is case-insensitive.
        return self.get(email__iexact=username or "")


class User(AbstractBaseUser, PermissionsMixin):
    """A person. `is_staff` makes them a platform IT admin and `is_finance` gives
    them platform finance; both are cross-organization permissions."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)  # type: ignore[misc]  # django-stubs: base declares a plain bool
    is_staff = models.BooleanField(
        "IT admin", default=False, help_text="Platform staff: manages every tenant."
    )
    is_finance = models.BooleanField(
        "finance", default=False, help_text="Platform finance: reads usage and billing."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    BILLING = "billing", "Billing"


# Roles that may manage members, invitations, API keys and toggles.
MANAGING_ROLES = frozenset({Role.OWNER, Role.ADMIN})
# Roles that may use the organization's capabilities (start jobs, upload, search).
USING_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER})
# Roles that may read the organization's usage, costs and invoices.
USAGE_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.BILLING})


class ApiKeyScope(models.TextChoices):
    """What an API key may do. Each scope acts as one role (SCOPE_ROLES), and a
    key lives only while its creator holds a role that may hold it (SCOPE_HOLDERS)."""

    READ = "read", "Read (GET only)"
    USE = "use", "Use (run capabilities)"
    MANAGE = "manage", "Manage (toggles, rules, keys)"


SCOPE_ROLES: dict[str, str] = {
    ApiKeyScope.READ: Role.BILLING,
    ApiKeyScope.USE: Role.MEMBER,
    ApiKeyScope.MANAGE: Role.ADMIN,
}
SCOPE_HOLDERS: dict[str, frozenset[str]] = {
    ApiKeyScope.READ: frozenset(Role.values),
    ApiKeyScope.USE: USING_ROLES,
    ApiKeyScope.MANAGE: MANAGING_ROLES,
}


class Organization(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    suspended_reason = models.CharField(max_length=300, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def can_manage(self) -> bool:
        return self.role in MANAGING_ROLES


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    """An emailed, expiring invitation to join an organization with a role. Only
    the token's hash is stored; the token itself exists in the email alone."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set by the periodic expiry task once it has logged the lapse.
    expired_noted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.organization}"

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"

    @property
    def is_pending(self) -> bool:
        return self.status == "pending"


class OrganizationAPIKey(AbstractAPIKey):
    """An organization's API key. django-rest-framework-api-key stores only a
    prefix and a hash; the full key is shown once, when it is created."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    scope = models.CharField(max_length=8, choices=ApiKeyScope.choices)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Why it was revoked, when not by hand: its creator left or lost the role.
    revoked_reason = models.CharField(max_length=200, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Keys made before scopes existed became `manage`; owners review them once.
    scope_migrated = models.BooleanField(default=False)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "organization API key"

    @property
    def valid_through(self) -> datetime.date | None:
        """The last day (UTC) the key works: it expires as that day ends."""
        if self.expiry_date is None:
            return None
        return (self.expiry_date.astimezone(datetime.UTC) - datetime.timedelta(microseconds=1)).date()

    @property
    def acts_as(self) -> str:
        """The role whose powers this key has."""
        return SCOPE_ROLES[self.scope]


class AuditEntry(AppendOnlyModel):
    """One line of the append-only audit log. The application refuses updates and
    deletes, and a database trigger (see the migration) refuses them too."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_email = models.CharField(max_length=254, blank=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=160, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["organization", "-at"])]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_email or 'system'} {self.action}"


class IdempotencyKey(models.Model):
    """A client's `Idempotency-Key` for one API write of an organization, with
    the request it was first used for and, once that request ran, its answer
    (see portal.idempotency)."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        FINISHED = "finished", "Finished"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    fingerprint = models.CharField(max_length=64)  # sha256 of the canonical request body
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_content_type = models.CharField(max_length=200, blank=True)
    response_body = models.BinaryField(default=b"")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="portal_idempotency_key_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"


class Alert(models.Model):
    """Something an organization's owners and billing people must hear about
    once (a budget threshold crossed, a usage spike): raised at most once per
    `key`, whatever number of workers raise it at the same moment (the unique
    constraint decides), then delivered by email (portal.alerts)."""

    class Kind(models.TextChoices):
        BUDGET = "budget", "Budget"
        ANOMALY = "anomaly", "Usage anomaly"

    class Level(models.TextChoices):
        INFO = "info", "Information"
        WARNING = "warning", "Warning"
        DANGER = "danger", "Action needed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="alerts")
    key = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.WARNING)
    title = models.CharField(max_length=200)
    message = models.TextField()
    url = models.CharField(max_length=300, blank=True)  # where to act, a path in the portal
    data = models.JSONField(default=dict, blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    emailed_at = models.DateTimeField(null=True, blank=True)
    emailed_to = models.JSONField(default=list, blank=True)
    # The organization's alerts webhook, when it had one as the alert was
    # raised: when the next attempt is due (null: nothing left to do; while an
    # attempt runs, the end of its lease), how many were made, and the last one.
    webhook_due_at = models.DateTimeField(null=True, blank=True)
    webhook_attempts = models.PositiveSmallIntegerField(default=0)
    webhook_last_attempt_at = models.DateTimeField(null=True, blank=True)
    webhook_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    webhook_last_error = models.CharField(max_length=500, blank=True)
    webhook_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="alert_once_per_key")]
        indexes = [
            models.Index(fields=["organization", "-raised_at"]),
            models.Index(
                fields=["webhook_due_at"],
                condition=models.Q(webhook_due_at__isnull=False),
                name="alert_webhook_due",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class AlertDismissal(models.Model):
    """One person's "hide this" on an alert of the banner; the others who get
    the alert still see it."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="dismissals")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    dismissed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "user"], name="alert_dismissed_once")]

    def __str__(self) -> str:
        return f"{self.user} dismissed {self.alert}"


class AlertWebhook(models.Model):
    """Where an organization wants its alerts POSTed, signed with a secret the
    portal generated (shown once, when created or rotated; kept to sign)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="alert_webhook")
    url = models.CharField(max_length=500)
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    secret_rotated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Alerts webhook of {self.organization}"
