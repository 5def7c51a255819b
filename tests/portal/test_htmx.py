"""htmx gets a page's named partial to swap in; everything else, a history
restore included, gets the whole page."""

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django_htmx.middleware import HtmxMiddleware

from portal.htmx import page_or_partial, wants_partial
from tests.factories import OrganizationFactory

HTMX = {"HX-Request": "true"}
HISTORY_RESTORE = {**HTMX, "HX-History-Restore-Request": "true"}


def _request(headers: dict[str, str]) -> HttpRequest:
    request = RequestFactory().get("/", headers=headers)
    HtmxMiddleware(lambda request: HttpResponse())(request)
    return request


@pytest.mark.parametrize(
    ("headers", "template"),
    [
        ({}, "manage/audit_log.html"),
        (HTMX, "manage/audit_log.html#audit-table"),
        (HISTORY_RESTORE, "manage/audit_log.html"),
    ],
    ids=["page", "htmx swap", "htmx history restore"],
)
def test_the_partial_only_for_an_htmx_swap(headers, template):
    request = _request(headers)
    assert page_or_partial(request, "manage/audit_log.html", "audit-table") == template
    assert wants_partial(request) == template.endswith("#audit-table")


def test_a_request_htmx_never_saw_gets_the_page():
    assert not wants_partial(RequestFactory().get("/", headers=HTMX))


@pytest.mark.django_db
def test_restoring_the_tenant_list_from_history_gets_the_whole_page(client_for, ivan, acme):
    """The filter form pushes its URL; going Back to it after htmx's history
    cache lost the page asks for it again as an htmx request: it needs the page."""
    OrganizationFactory(name="Globex")
    client = client_for(ivan)

    swapped = client.get("/manage/?q=glob", headers=HTMX).content.decode()
    restored = client.get("/manage/?q=glob", headers=HISTORY_RESTORE).content.decode()

    assert swapped.strip().startswith('<div id="tenant-table"')
    assert "<html" in restored and "Globex" in restored
