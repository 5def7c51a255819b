"""Where a notification may go: email addresses and webhook URLs, checked when
a rule is saved and again (webhooks) before every call by portal.outbound, so a
webhook cannot be pointed at the portal's own network (SSRF). Outside
production (the setting NOTIFICATIONS_ALLOW_PRIVATE_TARGETS) every address is
allowed."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from capabilities.capability_settings import capability_setting
from capabilities.notifications.models import Channel
from portal import outbound
from portal.outbound import carried_ipv4, is_public

__all__ = ["MAX_TARGET_LENGTH", "carried_ipv4", "clean_target", "is_public", "refused_address"]

MAX_TARGET_LENGTH = 500


def _allow_private() -> bool:
    return bool(capability_setting("notifications", "ALLOW_PRIVATE_TARGETS"))


def refused_address(url: str) -> str | None:
    """Why a webhook URL may not be called, or None."""
    return outbound.refused_address(url, allow_private=_allow_private())


def clean_target(channel: str, value: str) -> str:
    """The target, normalised, or ValidationError with a message for a person."""
    value = (value or "").strip()
    if not value:
        raise ValidationError("Give an email address or a webhook URL to notify.", code="required")
    if len(value) > MAX_TARGET_LENGTH:
        raise ValidationError(f"Keep it under {MAX_TARGET_LENGTH} characters.", code="too_long")
    if channel == Channel.EMAIL:
        try:
            EmailValidator()(value)
        except ValidationError:
            raise ValidationError(
                f"“{value}” is not a valid email address; write it like ops@example.com.",
                code="invalid_email",
            ) from None
        return value
    if channel == Channel.WEBHOOK:
        return outbound.clean_webhook_url(value, allow_private=_allow_private())
    raise ValidationError("Choose email or webhook.", code="invalid_channel")
