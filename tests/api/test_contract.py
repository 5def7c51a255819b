"""The API keeps its contract (issue 14): schemathesis, with all its checks,
against a live server reading `/api/schema/`, every operation (stateless) and
chains of operations through the schema's links (stateful), once with an
organization API key and once with a signed-in owner's session.

The live server runs in this process on the test database; the data is
committed first (transactional_db) so the server sees it. Generation is
deterministic (a fixed seed, derandomized), so a run can't flake.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.utils.crypto import get_random_string
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.config import SchemathesisConfig

from capabilities import actions as capability_actions
from capabilities.documents import actions as document_actions
from capabilities.models import Job
from capabilities.notifications import actions as notification_actions
from capabilities.registry import registry
from capabilities.reports import actions as report_actions
from capabilities.runner import _run
from metering import ledger
from portal.actions.api_keys import create_api_key
from portal.models import Organization, User

pytestmark = [pytest.mark.contract]

# Examples per operation and phase; the coverage phase adds the schema's edge
# cases (every boundary and each required part missing) on top.
MAX_EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "8"))  # CONTRACT_EXAMPLES=50 for a deeper run
STATEFUL_EXAMPLES = int(os.environ.get("CONTRACT_CHAINS", "6"))
STATEFUL_STEPS = 8
SEED = 14

# What schemathesis may take as the answer to a request its schema allows. Its
# default, plus 422: `idempotency_key_reused` (the generator sends one key with
# two requests; the schema documents that answer on every idempotent write).
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

# Operations that also check what OpenAPI cannot say, and answer 400 naming
# what is wrong: a file's content (its type, that it reads as a spreadsheet),
# a column that must be in the set's files, a target that must be an email
# address for email and a URL for a webhook, a job kind of that capability
# and its input, a range of days that must start before it ends, a question
# that must hold more than white space and stay under QA_MAX_QUESTION_CHARS, a
# budget's capability that must be one with meters (from the price book, so not
# an enum of the schema).
SEMANTIC_CHECKS = [
    ("POST", "/api/v1/c/documents/documents/"),
    ("POST", "/api/v1/c/reports/upload-sets/"),
    ("PUT", "/api/v1/c/reports/upload-sets/{upload_set_id}/mapping/"),
    ("POST", "/api/v1/c/reports/upload-sets/{upload_set_id}/reports/"),
    ("POST", "/api/v1/c/notifications/rules/"),
    ("PUT", "/api/v1/c/notifications/rules/{rule_id}"),
    ("PATCH", "/api/v1/c/notifications/rules/{rule_id}"),
    ("POST", "/api/v1/jobs/"),
    ("GET", "/api/v1/usage/"),
    ("POST", "/api/v1/c/qa/ask"),
    ("POST", "/api/v1/budgets/"),
    ("PUT", "/api/v1/budgets/{budget_id}"),
    # A usage event's type must name a meter, its time be within Stripe's window.
    ("POST", "/api/v1/events"),
    # A scheduled switch's moment must be ahead (at most a year), its state not the one
    # the capability will already be in then.
    ("POST", "/api/v1/capabilities/{key}/schedules"),
]

CONFIG = {
    "seed": SEED,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
    "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
    "operations": [
        {
            "include-method": method,
            "include-path": path,
            "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
        }
        for method, path in SEMANTIC_CHECKS
    ],
}

CSV = (
    b"Date,Sales Region,Product,Qty,Amount (USD)\n"
    b"2025-01-03,North,A-100,10,100.00\n"
    b"2025-01-09,South,B-200,4,60.50\n"
)
MAPPING = {
    "date": "Date",
    "region": "Sales Region",
    "sku": "Product",
    "units": "Qty",
    "revenue": "Amount (USD)",
}


@dataclass
class World:
    organization: Organization
    owner: User
    api_key: str


def _enable_everything(owner: User, organization: Organization) -> None:
    for capability in registry():
        capability_actions.set_capability_enabled(
            owner, organization, capability.key, enabled=True, include_related=True
        )


@pytest.fixture
def world(transactional_db, settings, tmp_path, cast) -> World:
    """acme with every capability on, a few documents (extracted), jobs, rules
    and a test delivery, an upload set with a built report, and usage."""
    settings.MEDIA_ROOT = tmp_path / "media"
    alice, acme = cast["alice"], Organization.objects.get(slug="acme")
    _enable_everything(alice, acme)
    uploaded = document_actions.upload_documents(
        alice,
        acme,
        [
            SimpleUploadedFile("invoice.txt", b"Invoice 42\nTotal due: 120.00 EUR\nAcme Corp"),
            SimpleUploadedFile("notes.txt", b"Quarterly notes: the north region sold most."),
        ],
    )
    for document in uploaded.documents:
        assert document.job is not None
        _run(document.job.pk, "contract", None)
    for pages in (1, 3):
        capability_actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": pages})
    capability_actions.start_job(None, acme, "ocr", kind="noop", job_input={})
    rule = notification_actions.create_rule(
        alice, acme, capability="ocr", event="both", channel="email", target="ops@acme.test"
    )
    notification_actions.create_rule(
        alice,
        acme,
        capability="documents",
        event="failed",
        channel="webhook",
        target="http://127.0.0.1:9/hook",
    )
    notification_actions.send_test(alice, rule)
    upload_set = report_actions.create_upload_set(
        alice, acme, name="Q1", files=[SimpleUploadedFile("jan.csv", CSV)]
    )
    upload_set = report_actions.set_mapping(
        alice, upload_set, mapping=MAPPING, date_order="day_first", currency="USD"
    )
    report = report_actions.start_report(alice, upload_set)
    assert report.job is not None
    _run(report.job.pk, "contract", None)
    now = datetime.now(UTC)
    with transaction.atomic():
        ledger.append(
            [
                ledger.UsageRecord(
                    organization_id=acme.pk,
                    capability="ocr",
                    meter="pages",
                    quantity=quantity,
                    occurred_at=now - timedelta(hours=hours),
                    idempotency_key=f"contract:{hours}",
                )
                for hours, quantity in ((1, 3), (5, 7), (30, 2))
            ]
        )
    _key, secret = create_api_key(alice, acme, name="contract robot", scope="manage")
    assert Job.objects.filter(organization=acme).count() >= 5
    return World(acme, alice, secret)


def _api_key_auth(world: World) -> type:
    class OrganizationApiKey:
        def get(self, case, context):  # type: ignore[no-untyped-def]
            return world.api_key

        def set(self, case, secret, context):  # type: ignore[no-untyped-def]
            case.headers = {**(case.headers or {}), "Authorization": f"Api-Key {secret}"}

    return OrganizationApiKey


def _session_auth(world: World) -> type:
    """The owner's session cookie, and DRF's CSRF check satisfied the way a
    browser does it: the csrftoken cookie and the same token in X-CSRFToken."""
    client = Client()
    client.force_login(world.owner)
    session = client.cookies["sessionid"].value
    csrf = get_random_string(32)

    class SignedInOwner:
        def get(self, case, context):  # type: ignore[no-untyped-def]
            return session

        def set(self, case, session_id, context):  # type: ignore[no-untyped-def]
            case.cookies = {**(case.cookies or {}), "sessionid": session_id, "csrftoken": csrf}
            case.headers = {**(case.headers or {}), "X-CSRFToken": csrf}

    return SignedInOwner


@pytest.fixture(params=["api_key", "session"])
def contract_schema(request, world, live_server):  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json", config=SchemathesisConfig.from_dict(CONFIG)
    )
    auth = _api_key_auth(world) if request.param == "api_key" else _session_auth(world)
    schema.auth()(auth)
    return schema


# Requests sent, per auth mode and kind of run, printed at the end of each test.
SENT: dict[str, int] = {}


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request):  # type: ignore[no-untyped-def]
    """schemathesis 4.32 renames the pytest node per operation through
    `node._nodeid`, which pytest 9 no longer has; give it one to rename."""
    request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("contract_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_the_contract(case, world, live_server):  # type: ignore[no-untyped-def]
    case.call_and_validate(base_url=live_server.url)
    SENT[case.operation.label] = SENT.get(case.operation.label, 0) + 1
    if case.operation.path.endswith("/toggle"):  # it may switch one off: the others need them on
        _enable_everything(world.owner, world.organization)


def test_chains_of_operations_keep_the_contract(contract_schema, world, live_server):  # type: ignore[no-untyped-def]
    sent = 0

    class Machine(contract_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case):  # type: ignore[no-untyped-def]
            return {"base_url": live_server.url}

        def after_call(self, response, case):  # type: ignore[no-untyped-def]
            nonlocal sent
            super().after_call(response, case)
            sent += 1
            if case.operation.path.endswith("/toggle"):
                _enable_everything(world.owner, world.organization)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        ),
    )
    print(f"stateful: {sent} requests")
    assert sent > 0
