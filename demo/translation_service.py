"""The quickstart's translation service: an external capability as a service
author writes one, in a process of its own (`Procfile.quickstart`), talking to
the portal only over its published protocols.

It imports nothing of the portal: standard library HTTP for its own two pages
(`/healthz`, which the portal's health page asks, and `/docs`, the catalog
card's documentation link), the OpenFeature SDK with its OFREP provider to ask
"is translation on for acme?", and the CloudEvents SDK to report the characters
it translated. Every `TRANSLATION_INTERVAL` seconds, for each organization it
knows, it asks its flag; where the answer is yes it translates a few messages
and reports them. The reports wait in an outbox until the portal has answered
for them: each piece of work has one id for good, so a retry after a lost
answer counts as a duplicate, never twice.

    python -m demo.translation_service   # see `Settings.from_environment`

The OpenFeature and CloudEvents packages are development requirements
(`requirements-dev.txt`, which `make venv` installs); the portal does not need them.
"""

from __future__ import annotations

import html
import logging
import os
import random
import signal
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

import requests
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext

KEY = "translation"  # the capability's key: its flag, and its events' type prefix
METER = "characters"
DEFAULT_PORT = 8010
SOURCE = "urn:switchboard-demo:translation-service"  # stable: ids are unique within it
BATCH = "application/cloudevents-batch+json"
FINAL = ("accepted", "duplicate", "refused")  # the portal's answers that end an event's wait

log = logging.getLogger("translation")

# What the demo's customers send to be translated, and the few words it knows.
MESSAGES = (
    "Your order has shipped and will arrive on Thursday.",
    "Please find the signed contract attached.",
    "The invoice is due at the end of the month.",
    "Thank you for your order.",
    "The meeting moves to Monday morning.",
    "Our office is closed on Friday.",
)
GLOSSARY = {
    "your": "votre",
    "order": "commande",
    "has": "a",
    "shipped": "été expédiée",
    "and": "et",
    "will": "",
    "arrive": "arrivera",
    "on": "le",
    "thursday": "jeudi",
    "please": "veuillez",
    "find": "trouver",
    "the": "le",
    "signed": "signé",
    "contract": "contrat",
    "attached": "ci-joint",
    "invoice": "facture",
    "is": "est",
    "due": "due",
    "at": "à",
    "end": "fin",
    "of": "du",
    "month": "mois",
    "thank": "merci",
    "you": "",
    "for": "pour",
    "meeting": "réunion",
    "moves": "passe",
    "to": "à",
    "monday": "lundi",
    "morning": "matin",
    "our": "notre",
    "office": "bureau",
    "closed": "fermé",
    "friday": "vendredi",
}


def translate(text: str) -> str:
    """English to French, word for word: a demo, not a translator."""
    words = []
    for word in text.rstrip(".").split():
        french = GLOSSARY.get(word.lower(), word)
        if french:
            words.append(french)
    sentence = " ".join(words)
    return sentence[:1].upper() + sentence[1:] + "."


def service_url(environ: Mapping[str, str]) -> str:
    """Where the service answers: TRANSLATION_SERVICE_URL, or this machine on TRANSLATION_PORT."""
    given = environ.get("TRANSLATION_SERVICE_URL", "").rstrip("/")
    return given or f"http://127.0.0.1:{environ.get('TRANSLATION_PORT', DEFAULT_PORT)}"


@dataclass(frozen=True)
class Settings:
    portal_url: str
    credential_file: Path
    port: int
    interval: float
    customers: tuple[str, ...]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """SWITCHBOARD_URL (the portal, default http://127.0.0.1:$PORT),
        TRANSLATION_CREDENTIAL_FILE (the secret seed_demo wrote), TRANSLATION_PORT
        (8010), TRANSLATION_INTERVAL (seconds between rounds, 30) and
        TRANSLATION_CUSTOMERS (organization slugs, "acme,globex")."""
        var = Path(environ.get("SWITCHBOARD_VAR_DIR", "var"))
        return cls(
            portal_url=environ.get("SWITCHBOARD_URL", f"http://127.0.0.1:{environ.get('PORT', 8000)}"),
            credential_file=Path(
                environ.get("TRANSLATION_CREDENTIAL_FILE", str(var / "translation-service.credential"))
            ),
            port=int(environ.get("TRANSLATION_PORT", DEFAULT_PORT)),
            interval=float(environ.get("TRANSLATION_INTERVAL", 30)),
            customers=tuple(
                slug.strip()
                for slug in environ.get("TRANSLATION_CUSTOMERS", "acme,globex").split(",")
                if slug
            ),
        )


@dataclass
class Round:
    """What one round did, for the log and for tests."""

    on: list[str] = field(default_factory=list)  # organizations served
    off: list[str] = field(default_factory=list)  # organizations whose flag said no
    unanswered: dict[str, str] = field(default_factory=dict)  # slug -> why the flag had no answer
    reported: list[CloudEvent] = field(default_factory=list)  # the events sent this round
    answers: dict[str, int] = field(default_factory=dict)  # the portal's answer -> events
    waiting: int = 0  # events still in the outbox (the portal did not answer for them)


class TranslationService:
    def __init__(
        self,
        portal_url: str,
        credential: str,
        customers: tuple[str, ...],
        *,
        rng: random.Random | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.portal_url = portal_url.rstrip("/")
        self.customers = customers
        self.rng = rng or random.Random()  # noqa: S311 (which messages arrive; not a secret)
        self.session = session or requests.Session()
        self._auth = {"Authorization": f"Bearer {credential}"}
        # A domain of its own, so that a test's other OpenFeature clients keep theirs.
        self._domain = f"translation-{uuid.uuid4().hex}"
        api.set_provider(
            OFREPProvider(self.portal_url, headers_factory=lambda: dict(self._auth)), self._domain
        )
        self.flags: OpenFeatureClient = api.get_client(self._domain)
        self.outbox: list[CloudEvent] = []

    def one_round(self) -> Round:
        """Ask the flag for each customer, do their work where it is on, report it."""
        result = Round()
        for slug in self.customers:
            details = self.flags.get_boolean_details(KEY, False, EvaluationContext(targeting_key=slug))
            if details.error_code is not None:
                result.unanswered[slug] = details.error_message or str(details.error_code)
                log.warning("Could not ask whether %s has translation on: %s", slug, result.unanswered[slug])
            elif details.value:
                result.on.append(slug)
                self._work_for(slug)
            else:
                result.off.append(slug)
                log.info("%s does not have translation on (%s): nothing to do", slug, _why_off(details))
        if self.outbox:
            result.reported = list(self.outbox)
            result.answers = self.report()
        result.waiting = len(self.outbox)
        return result

    def _work_for(self, slug: str) -> None:
        messages = self.rng.sample(MESSAGES, self.rng.randint(1, 3))
        characters = 0
        for message in messages:
            french = translate(message)
            characters += len(message)
            # One event per message translated, its id the work's own for good.
            self.outbox.append(
                CloudEvent(
                    {
                        "id": f"msg-{uuid.uuid4()}",
                        "source": SOURCE,
                        "type": f"{KEY}.{METER}",
                        "subject": slug,
                        "datacontenttype": "application/json",
                    },
                    {"quantity": len(message)},
                )
            )
        log.info(
            "%s: translated %d message(s) into French, %d characters (the last: “%s”)",
            slug,
            len(messages),
            characters,
            french,
        )

    def report(self) -> dict[str, int]:
        """Report the outbox as one batch; the events the portal answered for
        leave it, the others wait for the next round. How many got each answer."""
        answers: dict[str, int] = {}
        if not self.outbox:
            return answers
        body = b"[" + b",".join(JSONFormat().write(event) for event in self.outbox) + b"]"
        waiting = len(self.outbox)
        try:
            answer = self.session.post(
                f"{self.portal_url}/api/v1/events",
                data=body,
                headers={"Content-Type": BATCH, **self._auth},
                timeout=30,
            )
        except requests.RequestException as error:
            log.warning("Reporting usage failed (%s); %d event(s) wait for the next round", error, waiting)
            return answers
        try:
            results = answer.json()["results"] if answer.status_code == 200 else None
        except (ValueError, KeyError, TypeError):
            results = None
        if results is None:
            log.warning(
                "The portal answered %s to the usage report; %d event(s) wait for the next round",
                answer.status_code,
                waiting,
            )
            return answers
        done = set()
        for outcome in results:
            status = outcome.get("status")
            if status in FINAL:
                done.add(outcome.get("id"))
                answers[status] = answers.get(status, 0) + 1
            if status == "refused":
                log.warning("The portal refused event %s: %s", outcome.get("id"), outcome.get("detail"))
        self.outbox = [event for event in self.outbox if event.get_id() not in done]
        counted = ", ".join(f"{count} {status}" for status, count in sorted(answers.items()))
        log.info("Reported usage: %s", counted or "no answer for any event")
        return answers


def _why_off(details: Any) -> str:
    if (details.flag_metadata or {}).get("budget_state") == "stopped":
        return "a budget has stopped new work"
    return "switched off"


class _Pages(BaseHTTPRequestHandler):
    """/healthz and /docs; nothing else."""

    server_version = "TranslationService/1.0"

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._answer(200, "application/json", b'{"status": "ok"}')
        elif self.path == "/docs":
            self._answer(200, "text/html; charset=utf-8", DOCS.encode())
        else:
            self._answer(404, "text/plain; charset=utf-8", b"Not found: try /docs or /healthz.\n")

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the portal asks /healthz every 30 s: not worth a line each


DOCS = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Translation — Switchboard demo service</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}
code{{background:#f1f3f5;padding:0 .25rem;border-radius:3px}}</style></head>
<body>
<h1>Translation</h1>
<p>A demo service of the Switchboard quickstart: it translates customers' short messages
from English into French (word for word: it is a demo).</p>
<p>It runs as a separate process and talks to the portal only over its published protocols:</p>
<ul>
<li>before serving an organization it asks its flag <code>{KEY}</code> over OFREP, with the
OpenFeature SDK, so the organization's switch and budgets decide;</li>
<li>it reports each message translated as a CloudEvent of type <code>{KEY}.{METER}</code>
(one unit per character) to <code>/api/v1/events</code>, where it is metered and billed.</li>
</ul>
<p>Price: see the catalog. Example: {html.escape(MESSAGES[0])} → {html.escape(translate(MESSAGES[0]))}</p>
</body></html>
"""


def make_server(port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """The service's own pages, not yet serving (`serve_forever` in a thread)."""
    server = ThreadingHTTPServer((host, port), _Pages)
    server.daemon_threads = True
    return server


def wait_for_portal(url: str, stop: threading.Event, pause: Callable[[float], bool] | None = None) -> bool:
    """Poll the portal's /healthz until it answers 200, backing off to 30 s; False if stopped first."""
    pause = pause or stop.wait
    delay = 1.0
    while not stop.is_set():
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                return True
            why = "not ready yet"
        except requests.RequestException:
            why = "not answering yet"
        log.info("The portal at %s is %s; asking again in %.0f s", url, why, delay)
        pause(delay)
        delay = min(delay * 2, 30.0)
    return False


def read_credential(path: Path, stop: threading.Event) -> str | None:
    """The credential seed_demo wrote, waiting for the file if it isn't there yet."""
    while not stop.is_set():
        if path.exists():
            return path.read_text().strip()
        log.info("No credential at %s yet (seed_demo writes it); looking again in 10 s", path)
        stop.wait(10)
    return None


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings.from_environment(os.environ)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = make_server(settings.port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log.info("Translation service: http://127.0.0.1:%d/docs (its health: /healthz)", settings.port)
    credential = read_credential(settings.credential_file, stop)
    if credential is not None and wait_for_portal(settings.portal_url, stop):
        service = TranslationService(settings.portal_url, credential, settings.customers)
        log.info(
            "Serving %s; asking the portal every %.0f s", ", ".join(settings.customers), settings.interval
        )
        while not stop.is_set():
            try:
                service.one_round()
            except Exception:  # a demo keeps going; the traceback says what to fix
                log.exception("This round failed; trying again next round")
            stop.wait(settings.interval)
    server.shutdown()
    log.info("Translation service stopped")


if __name__ == "__main__":
    main()
