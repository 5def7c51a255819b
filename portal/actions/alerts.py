"""Alert actions: an organization's alerts webhook (set its URL, rotate its
signing secret, remove it) and one person's dismissal of an alert from the
banner. Raising and delivering alerts is portal.alerts'."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from portal.alerts import WEBHOOK_REMOVED
from portal.audit import Origin, record_audit
from portal.models import Alert, AlertDismissal, AlertWebhook, Organization, User
from portal.webhooks import new_secret


def set_alert_webhook(
    actor: User, organization: Organization, *, url: str, origin: Origin | None = None
) -> tuple[AlertWebhook, str | None]:
    """Point the organization's alerts webhook at `url` (checked by the form:
    portal.outbound.clean_webhook_url). A new webhook gets a signing secret,
    returned to be shown once; changing the URL keeps the secret (None)."""
    with transaction.atomic(durable=True):
        webhook = AlertWebhook.objects.select_for_update().filter(organization=organization).first()
        secret = None
        if webhook is None:
            secret = new_secret()
            webhook = AlertWebhook.objects.create(organization=organization, url=url, secret=secret)
            action, details = "alert_webhook.created", {"url": url}
        else:
            action, details = "alert_webhook.changed", {"from": webhook.url, "to": url}
            webhook.url = url
            webhook.updated_at = timezone.now()
            webhook.save(update_fields=["url", "updated_at"])
        record_audit(actor, action, organization=organization, target=webhook, origin=origin, details=details)
    return webhook, secret


def rotate_alert_webhook_secret(actor: User, webhook: AlertWebhook, *, origin: Origin | None = None) -> str:
    """Give the webhook a new signing secret, returned to be shown once; calls
    from now on are signed with it, and the old one stops verifying."""
    with transaction.atomic(durable=True):
        webhook.secret = new_secret()
        webhook.secret_rotated_at = timezone.now()
        webhook.save(update_fields=["secret", "secret_rotated_at"])
        record_audit(
            actor,
            "alert_webhook.secret_rotated",
            organization=webhook.organization,
            target=webhook,
            origin=origin,
        )
    return webhook.secret


def remove_alert_webhook(actor: User, webhook: AlertWebhook, *, origin: Origin | None = None) -> None:
    """Stop posting alerts: calls not yet made are dropped (the emails and the
    banner stay)."""
    organization = webhook.organization
    with transaction.atomic(durable=True):
        record_audit(
            actor,
            "alert_webhook.removed",
            organization=organization,
            target=webhook,
            origin=origin,
            details={"url": webhook.url},
        )
        webhook.delete()
        Alert.objects.filter(
            organization=organization, webhook_sent_at__isnull=True, webhook_due_at__isnull=False
        ).update(webhook_due_at=None, webhook_last_error=WEBHOOK_REMOVED)


def dismiss_alert(user: User, alert: Alert, *, origin: Origin | None = None) -> bool:
    """Hide `alert` from `user`'s banner (others still see it). False when it
    was already dismissed."""
    with transaction.atomic(durable=True):
        _, created = AlertDismissal.objects.get_or_create(alert=alert, user=user)
        if created:
            record_audit(
                user,
                "alert.dismissed",
                organization=alert.organization,
                target=alert,
                origin=origin,
                details={"key": alert.key},
            )
    return created
