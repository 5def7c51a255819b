"""Who may see finance's billing pages (the price book, reconciliation runs and
Stripe events) and start what they start: platform finance only."""

from __future__ import annotations

import pytest
from django.utils import timezone

from billing import reconcile
from billing.models import PriceVersion, ReconciliationRun
from metering.periods import billing_period
from tests.html import text

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


# --- finance: who may see the finance pages ---------------------------------------------------

FINANCE_PAGES = ["/finance/prices/", "/finance/reconciliations/", "/finance/stripe-events/"]


@pytest.mark.parametrize("url", FINANCE_PAGES)
@pytest.mark.parametrize("person", ["alice", "bob", "carol", "ivan"])
def test_finance_pages_are_for_finance_only(client_for, cast, url, person):
    assert client_for(cast[person]).get(url).status_code == 403


@pytest.mark.parametrize("url", FINANCE_PAGES)
def test_finance_sees_the_finance_pages_and_their_sidebar_links(client_for, fiona, url):
    response = client_for(fiona).get(url)
    assert response.status_code == 200
    page = text(response)
    for link in FINANCE_PAGES:
        assert f'href="{link}"' in page


def test_a_run_and_its_export_are_for_finance_only(client_for, cast):
    run = reconcile.start_run(None, billing_period(timezone.now()).start)
    for person in ("alice", "bob", "ivan"):
        client = client_for(cast[person])
        assert client.get(f"/finance/reconciliations/{run.pk}/").status_code == 403
        assert client.get(f"/finance/reconciliations/{run.pk}/", headers=HTMX).status_code == 403
        assert client.get(f"/finance/reconciliations/{run.pk}/export.csv").status_code == 403


def test_an_it_admin_cannot_start_a_reconciliation_or_change_a_price(client_for, ivan):
    client = client_for(ivan)
    period = billing_period(timezone.now()).start.isoformat()
    assert client.post("/finance/reconciliations/", {"period": period}).status_code == 403
    next_start = billing_period(timezone.now()).end.isoformat()
    response = client.post(
        "/finance/prices/",
        {"meter": "ocr.pages", "unit_price": "1", "effective_from": next_start, "note": "nope"},
    )
    assert response.status_code == 403
    assert not ReconciliationRun.objects.exists()
    assert not PriceVersion.objects.filter(version__gt=1).exists()
