"""Audit receivers for sign-in changes (sign in, sign out, failed attempts,
password changes and resets)."""

from typing import Any

from axes.helpers import get_client_ip_address
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest

from portal.audit import Origin, record_audit
from portal.models import User


def _ip(request: HttpRequest | None) -> str | None:
    return get_client_ip_address(request) if request is not None else None


def _audit(user: User | None, action: str, request: HttpRequest | None, **extra: Any) -> None:
    with transaction.atomic():
        record_audit(user, action, origin=Origin(ip_address=_ip(request)), **extra)


@receiver(user_logged_in)
def audit_sign_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    _audit(user, "auth.signed_in", request, target=user)


@receiver(user_logged_out)
def audit_sign_out(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        _audit(user, "auth.signed_out", request, target=user)


@receiver(user_login_failed)
def audit_failed_sign_in(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    email = str(credentials.get("username") or credentials.get("email") or "")[:254]
    _audit(None, "auth.sign_in_failed", request, actor_email=email, details={"email": email})


def audit_password_change(user: User, request: HttpRequest, *, reset: bool) -> None:
    """Called by the password views once a new password is saved."""
    _audit(user, "auth.password_reset" if reset else "auth.password_changed", request, target=user)
