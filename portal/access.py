"""Who may open what: the decorators every view uses, and the one-call helpers
that fetch tenant rows for the current organization or 404."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django_htmx.middleware import HtmxDetails

from portal.models import Membership, Organization, User


class AuthenticatedRequest(HttpRequest):
    """A request of a signed-in person (what `login_required` guarantees)."""

    user: User  # type: ignore[assignment]
    membership: Membership | None
    organization: Organization | None
    htmx: HtmxDetails


class OrgRequest(AuthenticatedRequest):
    """A request that `org_role_required` let through: the user is a member of an
    active organization."""

    membership: Membership
    organization: Organization


ViewFunc = Callable[..., HttpResponse]
M = TypeVar("M", bound=Model)


def home_url(user: User) -> str:
    """Where a person starts: a member of an organization on its home (the
    catalog), an IT admin on `/manage/`, platform finance on `/finance/`."""
    if user.memberships.exists():
        return reverse("home")
    if user.is_staff:
        return reverse("manage:organizations")
    if user.is_finance:
        return reverse("finance")
    return reverse("home")


def org_role_required(*roles: str) -> Callable[[ViewFunc], ViewFunc]:
    """Require a signed-in member of an active organization, with one of `roles`
    when given. Users without an organization and members of a suspended one
    get a page that says so, never the view."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = request.membership  # type: ignore[attr-defined]
            if membership is None:
                if request.user.is_staff or request.user.is_finance:  # type: ignore[union-attr]
                    return redirect(home_url(request.user))  # type: ignore[arg-type]
                return render(request, "portal/no_organization.html", status=403)
            if not membership.organization.is_active:
                return render(
                    request,
                    "portal/suspended.html",
                    {"suspended_organization": membership.organization},
                    status=403,
                )
            if roles and membership.role not in roles:
                raise PermissionDenied(
                    "Your role in this organization does not allow this. Ask an owner or admin."
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def platform_required(*, finance: bool = False) -> Callable[[ViewFunc], ViewFunc]:
    """Require platform staff (IT admin); with `finance=True` platform finance
    may read too."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not (user.is_staff or (finance and user.is_finance)):  # type: ignore[union-attr]
                raise PermissionDenied("This page is for Switchboard's IT admins.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def finance_required(view: ViewFunc) -> ViewFunc:
    """Platform finance only: IT admins and organization users get 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not getattr(request.user, "is_finance", False):
            raise PermissionDenied("This page is for Switchboard's finance team.")
        return view(request, *args, **kwargs)

    return wrapped


def get_for_org(request: OrgRequest, queryset: QuerySet[M], **lookup: Any) -> M:
    """Fetch one row of the current organization's, or 404 — also when the row
    exists in another organization, so outsiders learn nothing."""
    return get_object_or_404(queryset, organization=request.organization, **lookup)
