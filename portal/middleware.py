"""Resolve the organization a signed-in user is working in."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from portal.models import Membership

SESSION_KEY = "current_organization_id"


class CurrentOrganizationMiddleware:
    """Set `request.membership` and `request.organization` from the session's
    chosen organization, falling back to the user's first one. Neither is ever
    an organization the user does not belong to."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = None  # type: ignore[attr-defined]
        request.organization = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            memberships = Membership.objects.filter(user=user).select_related("organization")
            wanted = request.session.get(SESSION_KEY)
            membership = None
            if wanted is not None:
                membership = memberships.filter(organization_id=wanted).first()
            if membership is None:
                membership = memberships.order_by("organization__name").first()
            if membership is not None:
                request.membership = membership  # type: ignore[attr-defined]
                request.organization = membership.organization  # type: ignore[attr-defined]
        return self.get_response(request)
