"""The demo's translation service against a live portal: Translation registered,
switched on for acme and given a credential as seed_demo does, then one round
of the service with the real OpenFeature (OFREP) and CloudEvents clients: acme's
work is metered, globex (off) gets none, a retry of the same events counts
nothing, and the portal's health page sees the service's own /healthz."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import pytest
import requests
from django.db.models import Sum

from capabilities.actions import set_capability_enabled
from capabilities.models import ExternalCapability
from demo import translation
from demo.translation_service import (
    KEY,
    TranslationService,
    make_server,
    translate,
    wait_for_portal,
)
from metering.models import UsageEvent
from portal import demo as portal_demo
from tests.workers import free_port, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pages(monkeypatch) -> Iterator[str]:
    """The service's own pages on a free port, and the registration pointing at them."""
    server = make_server(0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("TRANSLATION_SERVICE_URL", url)
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture
def portal(live_server) -> str:
    """The live portal, its first (slow, cold) answers had: the service's own
    5 s timeout is for a portal that is up."""
    for path in ("/healthz", "/ofrep/v1/configuration"):
        requests.get(f"{live_server.url}{path}", timeout=120)
    return live_server.url


@pytest.fixture
def seeded(pages, tmp_path) -> tuple[portal_demo.Cast, str]:
    """What seed_demo sets up for the service: registered, on for acme, a credential in a file."""
    cast = portal_demo.ensure_people()
    ivan = cast.people["ivan"]
    service = translation.ensure_registered(ivan)
    set_capability_enabled(
        cast.people["alice"], cast.organizations["acme"], KEY, enabled=True, reason=translation.DEMO_REASON
    )
    path = tmp_path / "translation-service.credential"
    translation.ensure_credential(ivan, service, path)
    return cast, path.read_text().strip()


def test_one_round_meters_acme_and_leaves_globex_alone(portal, seeded):
    cast, secret = seeded
    service = TranslationService(portal, secret, ("acme", "globex"), rng=random.Random(7))
    done = service.one_round()
    assert (done.on, done.off, done.unanswered) == (["acme"], ["globex"], {})
    sent = len(done.reported)
    assert sent >= 1 and done.answers == {"accepted": sent} and done.waiting == 0

    recorded = UsageEvent.objects.filter(capability=KEY, meter="characters")
    assert {event.organization.slug for event in recorded} == {"acme"}
    assert recorded.count() == sent
    characters = sum(event.get_data()["quantity"] for event in done.reported)
    assert recorded.aggregate(total=Sum("quantity"))["total"] == characters

    # A retry after a lost answer: the same events again count nothing.
    service.outbox.extend(done.reported)
    assert service.report() == {"duplicate": sent}
    assert not service.outbox
    assert recorded.count() == sent

    # Acme's owner switches it off: the service sees it and does no work for acme.
    set_capability_enabled(
        cast.people["alice"], cast.organizations["acme"], KEY, enabled=False, reason="Not this month"
    )
    wait_for(lambda: service.one_round().on == [], 30, "the flag to say off for acme")
    assert service.one_round().reported == []
    assert recorded.count() == sent


def test_a_wrong_credential_gets_no_answer_and_does_no_work(portal, seeded):
    service = TranslationService(portal, "not-a-credential", ("acme",))
    done = service.one_round()
    assert list(done.unanswered) == ["acme"] and done.on == [] and done.reported == []


def test_its_pages_and_the_portals_health_page(pages, seeded, client_for):
    assert requests.get(f"{pages}/healthz", timeout=5).status_code == 200
    docs = requests.get(f"{pages}/docs", timeout=5)
    assert docs.status_code == 200 and "<h1>Translation</h1>" in docs.text
    assert "Votre commande" in translate("Your order has shipped and will arrive on Thursday.")
    service = ExternalCapability.objects.get(key=KEY)
    assert (service.documentation_url, service.health_url) == (f"{pages}/docs", f"{pages}/healthz")

    cast, _ = seeded
    health = client_for(cast.people["ivan"]).get("/manage/health/").content.decode()
    assert "Translation" in health and "Healthy" in health


def test_it_waits_for_the_portal_backing_off(portal):
    stop = threading.Event()
    assert wait_for_portal(portal, stop)

    pauses: list[float] = []

    def pause(seconds: float) -> bool:
        pauses.append(seconds)
        if len(pauses) == 6:
            stop.set()
        return stop.is_set()

    assert not wait_for_portal(f"http://127.0.0.1:{free_port()}", stop, pause)
    assert pauses == [1, 2, 4, 8, 16, 30]
