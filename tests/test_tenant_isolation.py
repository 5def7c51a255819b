"""Tenant isolation across every URL of the project: gina (globex) never sees or
changes acme's data, whatever URL she opens and however she authenticates.

Every URL pattern must be classified in `REGISTRY`, so a new page or endpoint
fails `test_every_url_is_classified` until it says how an outsider is kept out.
Add an entry next to the URL's siblings when you add a URL:

- `AcmeObject`: the URL names one of acme's rows (an id, a prefix, a slug of
  acme's). An outsider gets 404, as `portal.access.get_for_org` answers.
- `CurrentOrganization`: no object in the URL; the page or endpoint shows or
  changes the caller's current organization. An outsider sees only their own.
- `Platform`: platform staff pages (/manage/). Organization users get 403.
- `NotTenantScoped`: shows no tenant's data (sign-in, probes, API schema);
  say why.
- `TargetedOrganization`: the request body names the organization (OFREP's
  `targetingKey`). An outsider's credential naming acme gets 403; a session
  is no credential there (401).
- `UsageReport`: the body names the organization (a CloudEvent's `subject`);
  an outsider reporting usage for acme is refused and acme's usage unchanged.

It stays one long module on purpose: every URL of the project is classified
in one registry, so a URL nobody classified is caught in one place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from drf_spectacular.generators import SchemaGenerator

from capabilities.actions import set_capability_enabled, start_job
from capabilities.approvals.actions import request_capability
from capabilities.approvals.models import ApprovalPolicy, CapabilityRequest
from capabilities.contracts.actions import store_analysis
from capabilities.contracts.fields import Finding
from capabilities.contracts.models import Contract, ContractCorrection
from capabilities.documents.actions import upload_documents
from capabilities.documents.models import Document
from capabilities.models import (
    FeatureToggle,
    Job,
    ReleaseChange,
    ReleaseChoice,
    ScheduledSwitch,
    ToggleChange,
)
from capabilities.notifications import actions as notifications
from capabilities.notifications.models import Delivery, Rule
from capabilities.qa.models import Question
from capabilities.reports.actions import create_upload_set, set_mapping, start_report
from capabilities.reports.models import Report, UploadSet
from capabilities.schedules import expected_state, schedule_switch
from metering.actions import save_budget
from metering.models import Budget, UsageEvent
from metering.periods import billing_period
from portal import alerts
from portal.actions.alerts import set_alert_webhook
from portal.actions.api_keys import create_api_key
from portal.middleware import SESSION_KEY
from portal.models import (
    Alert,
    AlertDismissal,
    AlertWebhook,
    AuditEntry,
    Invitation,
    Membership,
    Organization,
    OrganizationAPIKey,
    Role,
    User,
)
from tests.factories import InvitationFactory, MembershipFactory, UserFactory

ACME_INVITATION_TOKEN = "acme-invitation-token-for-dan"


@dataclass
class World:
    """The rows the registry builds URLs from: acme's, which gina must not
    reach, and globex's, which she must see."""

    acme: Organization
    globex: Organization
    alice: User
    bob: User
    gina: User
    bob_membership: Membership
    acme_invitation: Invitation
    acme_api_key: OrganizationAPIKey
    acme_api_secret: str
    globex_invitation: Invitation
    globex_api_key: OrganizationAPIKey
    globex_api_secret: str
    acme_job: Job
    globex_job: Job
    acme_rule: Rule
    acme_delivery: Delivery
    globex_delivery: Delivery
    acme_document: Document
    acme_contract: Contract
    acme_upload_set: UploadSet
    acme_report: Report
    acme_alert: Alert
    acme_budget: Budget
    acme_schedule: ScheduledSwitch
    acme_request: CapabilityRequest

    def acme_markers(self) -> list[str]:
        """Strings that appear only in acme's data: its name, slug and member
        emails all contain "acme"; its key prefix is random."""
        return ["acme", self.acme_api_key.prefix]


Kwargs = Callable[[World], dict[str, Any]]


def no_kwargs(world: World) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class AcmeObject:
    """The URL names one of acme's rows: an outsider gets 404 and acme is unchanged."""

    kwargs: Kwargs
    methods: tuple[str, ...]
    data: Kwargs = no_kwargs


@dataclass(frozen=True)
class CurrentOrganization:
    """No object in the URL: shows or changes the caller's current organization.
    `shows` lists what a GET must contain for globex, so the check cannot pass
    on an empty page."""

    methods: tuple[str, ...]
    shows: Callable[[World], list[str]]
    data: Kwargs = no_kwargs
    kwargs: Kwargs = no_kwargs  # e.g. a capability key: not a row of any tenant
    query: Kwargs = no_kwargs  # a query string the route needs, e.g. a search's `q`


@dataclass(frozen=True)
class Platform:
    """A platform staff page: organization users get 403, whatever it names."""

    methods: tuple[str, ...]
    kwargs: Kwargs = no_kwargs
    data: Kwargs = no_kwargs


@dataclass(frozen=True)
class NotTenantScoped:
    """Shows no tenant's data; `reason` says why. Still fetched (GET) as gina to
    check that no acme data appears."""

    reason: str
    kwargs: Kwargs = no_kwargs


@dataclass(frozen=True)
class TargetedOrganization:
    """The body names the organization (OFREP's evaluation context): globex's
    key naming acme gets 403, gina's session 401, and acme is unchanged."""

    body: Callable[[World], dict[str, Any]]
    kwargs: Kwargs = no_kwargs


@dataclass(frozen=True)
class UsageReport:
    """Usage reported for the organization a CloudEvent's `subject` names: an
    outsider naming acme is refused (403 for a session, a `foreign_organization`
    result for a key) and acme's usage is unchanged."""


Entry = AcmeObject | CurrentOrganization | Platform | NotTenantScoped | TargetedOrganization | UsageReport


def _service_key(world: World) -> dict[str, Any]:
    return {"key": "translation"}


def _service_credential(world: World) -> dict[str, Any]:
    return {"key": "translation", "prefix": "abcd1234"}


def _bob_membership(world: World) -> dict[str, Any]:
    return {"membership_id": world.bob_membership.pk}


def _acme_invitation(world: World) -> dict[str, Any]:
    return {"invitation_id": world.acme_invitation.pk}


def _acme_slug(world: World) -> dict[str, Any]:
    return {"slug": world.acme.slug}


def _manage_bob(world: World) -> dict[str, Any]:
    return {"slug": world.acme.slug, "membership_id": world.bob_membership.pk}


def _manage_invitation(world: World) -> dict[str, Any]:
    return {"slug": world.acme.slug, "invitation_id": world.acme_invitation.pk}


def _make_admin(world: World) -> dict[str, Any]:
    return {"role": Role.ADMIN}


def _ocr(world: World) -> dict[str, Any]:
    return {"key": "ocr"}


def _glossary(world: World) -> dict[str, Any]:
    return {"key": "glossary"}


def _next_glossary_switch(world: World) -> dict[str, Any]:
    """A switch of globex's glossary at the end of the period to the state it
    will not be in then, so that each outsider's POST is one it accepts."""
    moment = billing_period(timezone.now()).end
    will_be_on = expected_state(world.globex, "glossary", moment)
    return {"enabled": not will_be_on, "end_of_period": True, "organization": world.acme.slug}


def _acme_upload_set(world: World) -> dict[str, Any]:
    return {"upload_set_id": world.acme_upload_set.pk}


def _acme_report(world: World) -> dict[str, Any]:
    return {"report_id": world.acme_report.pk}


SALES_MAPPING = {"date": "Date", "region": "Region", "sku": "SKU", "units": "Units", "revenue": "Revenue"}


def _acme_mapping(world: World) -> dict[str, Any]:
    return {"mapping": SALES_MAPPING}


REGISTRY: dict[str, Entry] = {
    # --- organization pages -------------------------------------------------
    "home": CurrentOrganization(methods=("GET",), shows=lambda w: ["Globex", "Text recognition"]),
    "overview": CurrentOrganization(methods=("GET",), shows=lambda w: ["Globex", "capability.enabled"]),
    # --- capabilities: catalog, pages, toggles ------------------------------
    "capability": CurrentOrganization(methods=("GET",), kwargs=_ocr, shows=lambda w: ["globex pilot"]),
    "capability_toggle": CurrentOrganization(
        methods=("GET", "POST"),
        kwargs=_ocr,
        shows=lambda w: ["Switch off Text recognition"],
        # Gina switching ocr off switches globex's (and its dependents), never acme's.
        data=lambda w: {"reason": "outsider", "include_related": "on", "organization": w.acme.slug},
    ),
    # A switch scheduled from gina's session is globex's, whatever the form says.
    "capability_schedule": CurrentOrganization(
        methods=("POST",),
        kwargs=_glossary,
        shows=lambda w: [],
        data=lambda w: {"enabled": "off", "when": "end_of_period", "organization": w.acme.slug},
    ),
    # A channel chosen from gina's session is globex's, whatever the form says.
    "capability_channel": CurrentOrganization(
        methods=("POST",),
        kwargs=_ocr,
        shows=lambda w: [],
        data=lambda w: {"channel": "beta", "organization": w.acme.slug},
    ),
    "capability_schedule_cancel": AcmeObject(
        lambda w: {"key": "glossary", "schedule_id": w.acme_schedule.pk}, methods=("POST",)
    ),
    "summaries:index": CurrentOrganization(methods=("GET",), shows=lambda w: ["Summaries home", "Globex"]),
    "notifications:index": CurrentOrganization(methods=("GET",), shows=lambda w: ["hooks@globex.test"]),
    "notifications:rule_create": CurrentOrganization(
        methods=("POST",),
        shows=lambda w: [],
        # A rule saved from gina's session is globex's, whatever the form says.
        data=lambda w: {
            "capability": "ocr",
            "event": "both",
            "channel": "email",
            "target": "x@globex.test",
            "organization": w.acme.slug,
        },
    ),
    "notifications:rule_delete": AcmeObject(lambda w: {"rule_id": w.acme_rule.pk}, methods=("POST",)),
    "notifications:rule_test": AcmeObject(lambda w: {"rule_id": w.acme_rule.pk}, methods=("POST",)),
    "notifications:deliveries": CurrentOrganization(methods=("GET",), shows=lambda w: ["hooks@globex.test"]),
    "notifications:delivery": AcmeObject(lambda w: {"delivery_id": w.acme_delivery.pk}, methods=("GET",)),
    # --- jobs ----------------------------------------------------------------
    "jobs": CurrentOrganization(methods=("GET",), shows=lambda w: [f"#{w.globex_job.pk}"]),
    "job": AcmeObject(lambda w: {"job_id": w.acme_job.pk}, methods=("GET",)),
    "job_cancel": AcmeObject(lambda w: {"job_id": w.acme_job.pk}, methods=("POST",)),
    "job_start": CurrentOrganization(
        methods=("POST",),
        kwargs=_ocr,
        shows=lambda w: [],
        # A job started from gina's session is globex's, whatever the form says.
        data=lambda w: {"kind": "recognize", "input": '{"pages": 1}', "organization": w.acme.slug},
    ),
    # Releasing from gina's session lifts globex's hold only (nothing is held: a message says so).
    "capability_release": CurrentOrganization(
        methods=("POST",), kwargs=_ocr, shows=lambda w: [], data=lambda w: {"organization": w.acme.slug}
    ),
    "job-list": CurrentOrganization(
        methods=("GET", "POST"),
        shows=lambda w: [f'"id":{w.globex_job.pk}'],
        data=lambda w: {"capability": "ocr", "kind": "recognize", "input": {"pages": 1}},
    ),
    "job-detail": AcmeObject(lambda w: {"job_id": w.acme_job.pk}, methods=("GET",)),
    "job-cancel": AcmeObject(lambda w: {"job_id": w.acme_job.pk}, methods=("POST",)),
    "event-ingest": UsageReport(),
    # --- metering: usage pages, finance, usage API ---------------------------
    "usage": CurrentOrganization(methods=("GET",), shows=lambda w: ["What Globex used"]),
    "usage_export": CurrentOrganization(methods=("GET",), shows=lambda w: ["period,capability,"]),
    # Budgets on /usage/: gina's new budget is globex's; acme's cannot be changed or removed.
    "budget_create": CurrentOrganization(
        methods=("POST",),
        shows=lambda w: [],
        data=lambda w: {
            "new-capability": "ocr",
            "new-amount": "5",
            "new-action": "stop",
            "new-thresholds": "",
        },
    ),
    "budget_change": AcmeObject(
        lambda w: {"budget_id": w.acme_budget.pk},
        methods=("POST",),
        data=lambda w: {
            f"budget-{w.acme_budget.pk}-amount": "1",
            f"budget-{w.acme_budget.pk}-action": "stop",
        },
    ),
    "budget_delete": AcmeObject(lambda w: {"budget_id": w.acme_budget.pk}, methods=("POST",)),
    # A hold chosen from gina's session is globex's, whatever the form says.
    "usage_anomaly_hold": CurrentOrganization(
        methods=("POST",),
        shows=lambda w: [],
        data=lambda w: {"capability": "ocr", "hold": "on", "organization": w.acme.slug},
    ),
    "finance": Platform(methods=("GET",)),
    "finance_caps": Platform(
        methods=("GET", "POST"),
        data=lambda w: {
            "cap-organization": "acme",
            "cap-amount": "1",
            "cap-action": "stop",
            "cap-reason": "x",
        },
    ),
    "manage:caps": Platform(
        methods=("GET", "POST"),
        kwargs=_acme_slug,
        data=lambda w: {"cap-amount": "1", "cap-action": "stop", "cap-reason": "x"},
    ),
    "manage:cap_change": Platform(
        methods=("POST",), kwargs=lambda w: {"slug": w.acme.slug, "budget_id": w.acme_budget.pk}
    ),
    "manage:cap_delete": Platform(
        methods=("POST",), kwargs=lambda w: {"slug": w.acme.slug, "budget_id": w.acme_budget.pk}
    ),
    "finance_export": Platform(methods=("GET",)),
    "finance_corrections": Platform(
        methods=("GET", "POST"),
        data=lambda w: {
            "organization": w.acme.slug,
            "meter": "ocr.pages",
            "quantity": "-5",
            "reason": "outsider",
        },
    ),
    # --- billing: the organization's billing page, finance pages, webhook, API --
    "billing": CurrentOrganization(methods=("GET",), shows=lambda w: ["Globex", "Stripe's upcoming invoice"]),
    "billing_prices": Platform(
        methods=("GET", "POST"),
        data=lambda w: {"meter": "ocr.pages", "unit_price": "9", "note": "outsider", "effective_from": ""},
    ),
    "billing_reconciliations": Platform(methods=("GET", "POST")),
    "billing_reconciliation": Platform(methods=("GET",), kwargs=lambda w: {"run_id": 1}),
    "billing_reconciliation_export": Platform(methods=("GET",), kwargs=lambda w: {"run_id": 1}),
    "billing_events": Platform(methods=("GET",)),
    "stripe_webhook": NotTenantScoped("Stripe's signed events; answers nothing without a valid signature"),
    "billing-reconciliations": Platform(methods=("GET",)),
    "service-list": Platform(methods=("GET", "POST")),
    "service-detail": Platform(methods=("GET", "PUT"), kwargs=_service_key),
    "service-retire": Platform(methods=("POST",), kwargs=_service_key, data=lambda w: {"reason": "x"}),
    "service-credential-list": Platform(methods=("GET", "POST"), kwargs=_service_key),
    "service-credential-detail": Platform(methods=("DELETE",), kwargs=_service_credential),
    "service-credential-rotate": Platform(methods=("POST",), kwargs=_service_credential),
    "billing-reconciliation": Platform(methods=("GET",), kwargs=lambda w: {"pk": 1}),
    "usage-report": CurrentOrganization(methods=("GET",), shows=lambda w: ['"organization":"globex"']),
    # The world has no usage events; tests/metering/test_api.py checks whose rows are listed.
    "usage-events": CurrentOrganization(methods=("GET",), shows=lambda w: ['"results":[]']),
    # Globex's total budget is $31.00, acme's $42.00 (never shown to gina).
    "budget-list": CurrentOrganization(methods=("GET",), shows=lambda w: ['"amount":"31.00"']),
    "budget-detail": AcmeObject(
        lambda w: {"budget_id": w.acme_budget.pk},
        methods=("GET", "PUT", "DELETE"),
        data=lambda w: {"amount": "1.00"},
    ),
    # The world has no anomalies; tests/metering/test_anomaly_api.py checks whose rows are listed.
    "usage-anomalies": CurrentOrganization(
        methods=("GET",), shows=lambda w: ['"organization":"globex"', '"anomalies":[]']
    ),
    "manage:capabilities": Platform(methods=("GET",), kwargs=_acme_slug),
    "manage:capability_pin": Platform(
        methods=("POST",),
        kwargs=lambda w: {"slug": w.acme.slug, "key": "ocr"},
        data=lambda w: {"version": "2.0.0", "reason": "outsider"},
    ),
    "manage:schedule_create": Platform(
        methods=("POST",),
        kwargs=_acme_slug,
        data=lambda w: {"capability": "glossary", "enabled": "on", "when": "end_of_period"},
    ),
    "manage:schedule_cancel": Platform(
        methods=("POST",), kwargs=lambda w: {"slug": w.acme.slug, "schedule_id": w.acme_schedule.pk}
    ),
    "manage:capability_force": Platform(
        methods=("POST",),
        kwargs=lambda w: {"slug": w.acme.slug, "key": "ocr"},
        data=lambda w: {"action": "force_off", "reason": "outsider"},
    ),
    # --- capability requests and approvals (capabilities.approvals) ---------------
    "capability_requests": CurrentOrganization(methods=("GET",), shows=lambda w: ["globex glossary wish"]),
    # Gina's POST asks globex (where it is asked already: refused), whatever the form says.
    "capability_request_new": CurrentOrganization(
        methods=("GET",),
        shows=lambda w: ["Globex"],
        data=lambda w: {
            "capability": "glossary",
            "enabled": "on",
            "reason": "outsider",
            "organization": w.acme.slug,
        },
    ),
    "capability_request_approve": AcmeObject(lambda w: {"request_id": w.acme_request.pk}, methods=("POST",)),
    "capability_request_decline": AcmeObject(lambda w: {"request_id": w.acme_request.pk}, methods=("POST",)),
    "approval_settings": CurrentOrganization(
        methods=("GET", "POST"),
        shows=lambda w: ["Globex"],
        data=lambda w: {"cost_limit": "1", "organization": w.acme.slug},
    ),
    "manage:approvals": Platform(
        methods=("GET", "POST"),
        kwargs=_acme_slug,
        data=lambda w: {"approvals-every_switch_on": "on", "approvals-reason": "x"},
    ),
    # A POST from gina asks globex (asked already: 409), never acme.
    "capability-request-list": CurrentOrganization(
        methods=("GET",),
        shows=lambda w: ["globex glossary wish"],
        data=lambda w: {"capability": "glossary", "reason": "outsider"},
    ),
    "capability-request-approve": AcmeObject(lambda w: {"request_id": w.acme_request.pk}, methods=("POST",)),
    "capability-request-decline": AcmeObject(lambda w: {"request_id": w.acme_request.pk}, methods=("POST",)),
    "switch_organization": CurrentOrganization(
        methods=("POST",), shows=lambda w: ["Globex"], data=lambda w: {"organization": w.acme.slug}
    ),
    "members": CurrentOrganization(
        methods=("GET", "POST"),
        shows=lambda w: [w.gina.email, w.globex_invitation.email],
        # An invitation sent from gina's session lands in globex, never acme.
        data=lambda w: {"email": "eve@example.test", "role": Role.MEMBER, "organization": w.acme.slug},
    ),
    "member_role": AcmeObject(_bob_membership, methods=("POST",), data=_make_admin),
    "member_remove": AcmeObject(_bob_membership, methods=("POST",)),
    "invitation_revoke": AcmeObject(_acme_invitation, methods=("POST",)),
    # The token is the credential. Guessing it from what an outsider might know
    # of acme's invitation (its id, its email) must find nothing.
    "invitation_accept": AcmeObject(lambda w: {"token": str(w.acme_invitation.pk)}, methods=("GET", "POST")),
    "api_keys": CurrentOrganization(
        methods=("GET", "POST"),
        shows=lambda w: [w.globex_api_key.prefix],
        data=lambda w: {"name": "outsider key", "scope": "manage", "organization": w.acme.slug},
    ),
    "api_key_revoke": AcmeObject(lambda w: {"key_prefix": w.acme_api_key.prefix}, methods=("POST",)),
    # Both organizations' keys still await review: gina's POST marks only globex's.
    "api_keys_review": CurrentOrganization(methods=("POST",), shows=lambda w: []),
    # --- alerts: the settings page (alerts webhook), dismissing from the banner --
    "organization_settings": CurrentOrganization(
        methods=("GET", "POST"),
        shows=lambda w: ["hooks.globex.test"],
        # A webhook saved from gina's session is globex's, whatever the form says.
        data=lambda w: {"url": "http://127.0.0.1:9/outsider", "organization": w.acme.slug},
    ),
    "alert_webhook_rotate": CurrentOrganization(methods=("POST",), shows=lambda w: []),
    "alert_webhook_remove": CurrentOrganization(methods=("POST",), shows=lambda w: []),
    "alert_dismiss": AcmeObject(lambda w: {"alert_id": w.acme_alert.pk}, methods=("POST",)),
    # --- accounts -------------------------------------------------------------
    "login": NotTenantScoped("sign-in form; a signed-in user is sent home"),
    "logout": NotTenantScoped("ends the caller's own session"),
    "password_change": NotTenantScoped("the caller's own password"),
    "password_change_done": NotTenantScoped("static confirmation"),
    "password_reset": NotTenantScoped("asks for an email address; tells nothing about accounts"),
    "password_reset_done": NotTenantScoped("static confirmation"),
    "password_reset_confirm": NotTenantScoped(
        "the token is the credential; a wrong one shows an invalid-link page",
        kwargs=lambda w: {"uidb64": urlsafe_base64_encode(force_bytes(w.bob.pk)), "token": "wrong-token"},
    ),
    "password_reset_complete": NotTenantScoped("static confirmation"),
    # --- platform staff (/manage/) -------------------------------------------
    "manage:organizations": Platform(methods=("GET",)),
    "manage:organization_create": Platform(
        methods=("GET", "POST"),
        data=lambda w: {"name": "Acme Two", "slug": "acme-two", "owner_email": w.gina.email},
    ),
    "manage:organization": Platform(methods=("GET",), kwargs=_acme_slug),
    "manage:organization_suspend": Platform(
        methods=("POST",), kwargs=_acme_slug, data=lambda w: {"reason": "outsider"}
    ),
    "manage:organization_reactivate": Platform(methods=("POST",), kwargs=_acme_slug),
    "manage:organization_invite": Platform(
        methods=("POST",),
        kwargs=_acme_slug,
        data=lambda w: {"email": w.gina.email, "role": Role.OWNER},
    ),
    "manage:member_role": Platform(methods=("POST",), kwargs=_manage_bob, data=_make_admin),
    "manage:member_remove": Platform(methods=("POST",), kwargs=_manage_bob),
    "manage:invitation_revoke": Platform(methods=("POST",), kwargs=_manage_invitation),
    "manage:audit": Platform(methods=("GET",)),
    "manage:health": Platform(methods=("GET",)),
    # External capabilities (issue 18): the platform's registry, IT admins only.
    "manage:services": Platform(methods=("GET",)),
    "manage:service_register": Platform(
        methods=("GET", "POST"), data=lambda w: {"key": "outsider", "name": "X"}
    ),
    "manage:service": Platform(methods=("GET",), kwargs=_service_key),
    "manage:service_change": Platform(methods=("GET", "POST"), kwargs=_service_key),
    "manage:service_retire": Platform(methods=("POST",), kwargs=_service_key, data=lambda w: {"reason": "x"}),
    "manage:credential_issue": Platform(methods=("POST",), kwargs=_service_key),
    "manage:credential_revoke": Platform(methods=("POST",), kwargs=_service_credential),
    "manage:credential_rotate": Platform(methods=("POST",), kwargs=_service_credential),
    # --- flags over OFREP (capabilities.ofrep) ----------------------------------
    "ofrep_evaluate_flag": TargetedOrganization(
        body=lambda w: {"context": {"targetingKey": w.acme.slug}}, kwargs=lambda w: {"key": "ocr"}
    ),
    "ofrep_evaluate_flags": TargetedOrganization(body=lambda w: {"context": {"targetingKey": w.acme.slug}}),
    "ofrep_configuration": NotTenantScoped("what the flag service offers a provider; names no organization"),
    # --- probes ---------------------------------------------------------------
    "healthz": NotTenantScoped("liveness probe"),
    "readyz": NotTenantScoped("readiness probe; names failing services only"),
    "metrics": NotTenantScoped(
        "Prometheus scrape, platform-wide figures per capability, behind METRICS_TOKEN"
    ),
    # --- API ------------------------------------------------------------------
    "organization-list": CurrentOrganization(methods=("GET",), shows=lambda w: [w.globex.slug]),
    "capability-list": CurrentOrganization(
        methods=("GET",), shows=lambda w: ['"key":"ocr","name":"Text recognition"']
    ),
    "capability-toggle": CurrentOrganization(
        methods=("PUT",),
        kwargs=_ocr,
        shows=lambda w: [],
        data=lambda w: {"enabled": False, "include_related": True},
    ),
    "capability-channel": CurrentOrganization(
        methods=("PUT",), kwargs=_ocr, shows=lambda w: [], data=lambda w: {"channel": "beta"}
    ),
    "capability-history": CurrentOrganization(
        methods=("GET",), kwargs=_ocr, shows=lambda w: ["globex pilot"]
    ),
    # Scheduled switches: gina's list shows globex's, her new one is globex's.
    "capability-schedules": CurrentOrganization(
        methods=("GET", "POST"),
        kwargs=_glossary,
        shows=lambda w: ["globex night shift"],
        data=_next_glossary_switch,
    ),
    "capability-schedule": AcmeObject(
        lambda w: {"key": "glossary", "schedule_id": w.acme_schedule.pk}, methods=("GET", "DELETE")
    ),
    # --- Documents (capability app) -------------------------------------------
    "documents:index": CurrentOrganization(methods=("GET",), shows=lambda w: ["globex-memo.txt"]),
    # An upload from gina's session lands in globex; without files it is refused.
    "documents:upload": CurrentOrganization(
        methods=("POST",), shows=lambda w: [], data=lambda w: {"organization": w.acme.slug}
    ),
    "documents:search": CurrentOrganization(methods=("GET",), shows=lambda w: ["Search documents"]),
    "documents:document": AcmeObject(lambda w: {"document_id": w.acme_document.pk}, methods=("GET",)),
    "documents:page": AcmeObject(
        lambda w: {"document_id": w.acme_document.pk, "number": 1}, methods=("GET",)
    ),
    "documents:file": AcmeObject(lambda w: {"document_id": w.acme_document.pk}, methods=("GET",)),
    "documents-api:document-list": CurrentOrganization(methods=("GET",), shows=lambda w: ["globex-memo.txt"]),
    "documents-api:document-detail": AcmeObject(
        lambda w: {"document_id": w.acme_document.pk}, methods=("GET",)
    ),
    "documents-api:search": CurrentOrganization(
        methods=("GET",), shows=lambda w: ['"results":[]'], query=lambda w: {"q": ""}
    ),
    # --- Document Q&A (capability app) ---------------------------------------
    "qa:index": CurrentOrganization(methods=("GET",), shows=lambda w: ["What does globex pay?"]),
    "qa:status": CurrentOrganization(methods=("GET",), shows=lambda w: ["Indexed for questions"]),
    # A question asked from gina's session is globex's and asks globex's documents.
    "qa:ask": CurrentOrganization(
        methods=("POST",),
        shows=lambda w: [],
        data=lambda w: {"question": "What are the terms?", "organization": w.acme.slug},
    ),
    "qa:index_documents": CurrentOrganization(
        methods=("POST",), shows=lambda w: [], data=lambda w: {"organization": w.acme.slug}
    ),
    "qa-api:ask": CurrentOrganization(
        methods=("POST",), shows=lambda w: [], data=lambda w: {"question": "What are the terms?"}
    ),
    # --- Contract tracker (capability app) ----------------------------------
    "contracts:index": CurrentOrganization(methods=("GET",), shows=lambda w: ["globex-memo.txt"]),
    "contracts:export": CurrentOrganization(methods=("GET",), shows=lambda w: ["globex-memo.txt"]),
    "contracts:contract": AcmeObject(lambda w: {"contract_id": w.acme_contract.pk}, methods=("GET",)),
    "contracts:correct": AcmeObject(
        lambda w: {"contract_id": w.acme_contract.pk},
        methods=("POST",),
        data=lambda w: {"field": "governing_law", "value": "Globexland"},
    ),
    "contracts-api:contract-list": CurrentOrganization(methods=("GET",), shows=lambda w: ["globex-memo.txt"]),
    "contracts-api:contract-detail": AcmeObject(
        lambda w: {"contract_id": w.acme_contract.pk},
        methods=("GET", "PATCH"),
        data=lambda w: {"field": "governing_law", "value": "Globexland"},
    ),
    "summaries-api:count": CurrentOrganization(methods=("GET",), shows=lambda w: ['"summaries":0']),
    # --- notifications: rules, test sends, deliveries -----------------------
    "notifications-api:rule-list": CurrentOrganization(
        methods=("GET", "POST"),
        shows=lambda w: ["hooks@globex.test"],
        data=lambda w: {"capability": "ocr", "event": "both", "channel": "email", "target": "x@globex.test"},
    ),
    "notifications-api:rule-detail": AcmeObject(
        lambda w: {"rule_id": w.acme_rule.pk},
        methods=("GET", "PUT", "PATCH", "DELETE"),
        data=lambda w: {"capability": "ocr", "event": "both", "channel": "email", "target": "x@globex.test"},
    ),
    "notifications-api:rule-test": AcmeObject(lambda w: {"rule_id": w.acme_rule.pk}, methods=("POST",)),
    "notifications-api:delivery-list": CurrentOrganization(
        methods=("GET",), shows=lambda w: ["hooks@globex.test"]
    ),
    "notifications-api:delivery-detail": AcmeObject(
        lambda w: {"delivery_id": w.acme_delivery.pk}, methods=("GET",)
    ),
    # --- sales reports (capabilities/reports) ----------------------------------
    "reports:index": CurrentOrganization(methods=("GET",), shows=lambda w: ["globex sales 2025"]),
    "reports:upload_set": AcmeObject(_acme_upload_set, methods=("GET", "POST"), data=_acme_mapping),
    "reports:build": AcmeObject(_acme_upload_set, methods=("POST",)),
    "reports:report": AcmeObject(_acme_report, methods=("GET",)),
    "reports:report_xlsx": AcmeObject(_acme_report, methods=("GET",)),
    "reports:report_pdf": AcmeObject(_acme_report, methods=("GET",)),
    # POST is multipart (tried here as JSON: 415); tests/capabilities/reports/test_api.py
    # checks an upload lands in the caller's organization.
    "reports-api:upload-set-list": CurrentOrganization(
        methods=("GET",), shows=lambda w: ["globex sales 2025"]
    ),
    "reports-api:upload-set-detail": AcmeObject(_acme_upload_set, methods=("GET",)),
    "reports-api:upload-set-mapping": AcmeObject(_acme_upload_set, methods=("PUT",), data=_acme_mapping),
    "reports-api:upload-set-build": AcmeObject(_acme_upload_set, methods=("POST",)),
    "reports-api:report-detail": AcmeObject(_acme_report, methods=("GET",)),
    "reports-api:report-xlsx": AcmeObject(_acme_report, methods=("GET",)),
    "reports-api:report-pdf": AcmeObject(_acme_report, methods=("GET",)),
    "api-schema": NotTenantScoped("the OpenAPI document describes endpoints, not rows"),
    "api-docs": NotTenantScoped("Swagger UI page around the schema"),
}


# --- walking the URL configuration --------------------------------------------


@dataclass(frozen=True)
class Route:
    route: str
    name: str | None


def walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from walk(pattern, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = pattern.name and (f"{namespace}:{pattern.name}" if namespace else pattern.name)
            yield Route("/" + prefix + str(pattern.pattern), name)


ROUTES = list(walk(get_resolver()))


def _entries_of(kind: type) -> list[str]:
    return [name for name, entry in REGISTRY.items() if isinstance(entry, kind)]


def test_every_url_is_classified():
    unnamed = [route.route for route in ROUTES if not route.name]
    assert not unnamed, f"Name these URL patterns so they can be classified: {unnamed}"
    missing = sorted({route.name for route in ROUTES} - set(REGISTRY))
    assert not missing, (
        f"Add these URL names to REGISTRY in {__name__} (how an outsider is kept out): {missing}"
    )


def test_registry_names_only_existing_urls():
    stale = sorted(set(REGISTRY) - {route.name for route in ROUTES})
    assert not stale, f"REGISTRY names URLs that no longer exist: {stale}"


def test_every_api_route_is_classified():
    """Every path of the OpenAPI document is a classified URL pattern, so an API
    route added any way (router, include) is covered."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    api_routes = {_normalized(route.route) for route in ROUTES if route.route.startswith("/api/")}
    unknown = sorted(path for path in schema["paths"] if _normalized(path) not in api_routes)
    assert not unknown, f"API paths not found among the URL patterns: {unknown}"
    assert "/api/v1/organizations/" in schema["paths"]


def _normalized(route: str) -> str:
    """`/a/<int:id>/` and `/a/{id}/` both become `/a/{}/`."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", route)


# --- the world and the outsiders ---------------------------------------------


def _sales_upload(organization: Organization, actor: User, name: str) -> UploadSet:
    csv = b"Date,Region,SKU,Units,Revenue\n2025-01-02,North,A-1,2,20.00\n"
    return create_upload_set(
        actor, organization, name=name, files=[SimpleUploadedFile("january.csv", csv, "text/csv")]
    )


@pytest.fixture
def world(acme, globex, alice, bob, carol, gina, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    # Alerts: an alerts webhook and an open alert each; acme's name acme (made
    # first, so that the overview's recent activity still shows the toggles).
    set_alert_webhook(alice, acme, url="https://hooks.acme.test/alerts")
    set_alert_webhook(gina, globex, url="https://hooks.globex.test/alerts")
    acme_alert = alerts.raise_alert(
        acme, key="acme-budget", kind=Alert.Kind.BUDGET, title="acme budget at 80 %", message="acme spent"
    )
    alerts.raise_alert(
        globex, key="globex-budget", kind=Alert.Kind.BUDGET, title="Budget at 80 %", message="Globex spent"
    )
    # A pending scheduled switch each (glossary on at the end of the period), made
    # before the toggles for the same reason as the alerts.
    acme_schedule = schedule_switch(
        alice, acme, "glossary", enabled=True, end_of_period=True, reason="acme night shift"
    )
    schedule_switch(gina, globex, "glossary", enabled=True, end_of_period=True, reason="globex night shift")
    # Requests for the glossary (which stays off): bob's in acme, a member's in globex.
    acme_request = request_capability(bob, acme, "glossary", reason="acme glossary wish")
    gus = UserFactory(email="gus@globex.test", full_name="Gus Green")
    MembershipFactory(user=gus, organization=globex, role=Role.MEMBER)
    request_capability(gus, globex, "glossary", reason="globex glossary wish")
    acme_invitation = InvitationFactory(
        organization=acme, email="dan@acme.test", invited_by=alice, token=ACME_INVITATION_TOKEN
    )
    globex_invitation = InvitationFactory(organization=globex, email="hank@globex.test", invited_by=gina)
    acme_key, acme_secret = create_api_key(alice, acme, name="acme deploy key", scope="manage")
    globex_key, globex_secret = create_api_key(gina, globex, name="x", scope="manage")
    # As if made before scopes: the keys page asks each organization to review them.
    OrganizationAPIKey.objects.filter(pk__in=[acme_key.pk, globex_key.pk]).update(scope_migrated=True)
    # Both organizations use capabilities; acme's history names acme, so a leak shows.
    set_capability_enabled(
        alice, acme, "summaries", enabled=True, include_related=True, reason="acme rollout"
    )
    set_capability_enabled(
        gina, globex, "summaries", enabled=True, include_related=True, reason="globex pilot"
    )
    set_capability_enabled(alice, acme, "notifications", enabled=True, reason="acme rollout")
    set_capability_enabled(gina, globex, "notifications", enabled=True, reason="globex pilot")
    set_capability_enabled(alice, acme, "documents", enabled=True)
    set_capability_enabled(gina, globex, "documents", enabled=True)
    set_capability_enabled(alice, acme, "qa", enabled=True, reason="acme questions")
    set_capability_enabled(gina, globex, "qa", enabled=True, reason="globex questions")
    Question.objects.create(organization=acme, asked_by=alice, question="What does acme pay?")
    Question.objects.create(organization=globex, asked_by=gina, question="What does globex pay?")
    set_capability_enabled(alice, acme, "contracts", enabled=True)
    set_capability_enabled(gina, globex, "contracts", enabled=True)
    set_capability_enabled(alice, acme, "reports", enabled=True, reason="acme reports")
    set_capability_enabled(gina, globex, "reports", enabled=True, reason="globex reports")
    # Queued jobs (no worker runs here): acme's must stay queued and unseen.
    acme_job = start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 2, "note": "acme scan"})
    globex_job = start_job(gina, globex, "ocr", kind="recognize", job_input={"pages": 1})
    acme_rule = notifications.create_rule(
        alice, acme, capability="ocr", event="both", channel="email", target="ops@acme.test"
    )
    globex_rule = notifications.create_rule(
        gina, globex, capability="ocr", event="both", channel="email", target="hooks@globex.test"
    )
    acme_delivery = notifications.send_test(alice, acme_rule)
    globex_delivery = notifications.send_test(gina, globex_rule)
    acme_document = upload_documents(
        alice, acme, [SimpleUploadedFile("acme-contract.txt", b"acme terms")]
    ).documents[0]
    globex_document = upload_documents(
        gina, globex, [SimpleUploadedFile("globex-memo.txt", b"globex memo")]
    ).documents[0]
    # Contract tracker: one contract each, read as if analysed.
    acme_contract = store_analysis(
        acme_document, Finding(is_contract=True, values={"parties": ["Acme Corp", "Supplier Ltd"]})
    )
    store_analysis(globex_document, Finding(is_contract=True, values={"parties": ["Globex", "Vendor"]}))
    # Sales reports: a set and a queued build each; acme's names acme.
    acme_upload_set = _sales_upload(acme, alice, "acme sales 2025")
    set_mapping(alice, acme_upload_set, mapping=SALES_MAPPING)
    acme_report = start_report(alice, acme_upload_set)
    globex_upload_set = _sales_upload(globex, gina, "globex sales 2025")
    set_mapping(gina, globex_upload_set, mapping=SALES_MAPPING)
    start_report(gina, globex_upload_set)
    acme_budget = save_budget(alice, acme, capability=None, amount=Decimal("42.00"))
    save_budget(gina, globex, capability=None, amount=Decimal("31.00"))
    return World(
        acme=acme,
        globex=globex,
        alice=alice,
        bob=bob,
        gina=gina,
        bob_membership=Membership.objects.get(user=bob, organization=acme),
        acme_invitation=acme_invitation,
        acme_api_key=acme_key,
        acme_api_secret=acme_secret,
        globex_invitation=globex_invitation,
        globex_api_key=globex_key,
        globex_api_secret=globex_secret,
        acme_job=acme_job,
        globex_job=globex_job,
        acme_rule=acme_rule,
        acme_delivery=acme_delivery,
        globex_delivery=globex_delivery,
        acme_document=acme_document,
        acme_contract=acme_contract,
        acme_upload_set=acme_upload_set,
        acme_report=acme_report,
        acme_alert=acme_alert,
        acme_budget=acme_budget,
        acme_schedule=acme_schedule,
        acme_request=acme_request,
    )


def acme_state(acme: Organization) -> dict[str, Any]:
    """Everything of acme's an outsider's request could change."""
    return {
        "organizations": list(Organization.objects.order_by("slug").values_list("slug", "name", "status")),
        "memberships": list(
            Membership.objects.filter(organization=acme).order_by("pk").values_list("user__email", "role")
        ),
        "invitations": list(
            Invitation.objects.filter(organization=acme)
            .order_by("pk")
            .values_list("email", "role", "revoked_at", "accepted_at")
        ),
        "api_keys": list(
            OrganizationAPIKey.objects.filter(organization=acme)
            .order_by("pk")
            .values_list("prefix", "name", "scope", "revoked", "revoked_at", "scope_migrated")
        ),
        "audit_entries": AuditEntry.objects.filter(organization=acme).count(),
        "toggles": list(
            FeatureToggle.objects.filter(organization=acme)
            .order_by("capability_key")
            .values_list("capability_key", "enabled", "locked")
        ),
        "toggle_changes": ToggleChange.objects.filter(organization=acme).count(),
        "release_choices": list(
            ReleaseChoice.objects.filter(organization=acme)
            .order_by("capability_key")
            .values_list("capability_key", "channel", "pinned_version")
        ),
        "release_changes": ReleaseChange.objects.filter(organization=acme).count(),
        "jobs": list(
            Job.objects.filter(organization=acme).order_by("pk").values_list("pk", "status", "input")
        ),
        "notification_rules": list(
            Rule.objects.filter(organization=acme).order_by("pk").values_list("pk", "channel", "target")
        ),
        "notification_deliveries": list(
            Delivery.objects.filter(organization=acme).order_by("pk").values_list("pk", "status")
        ),
        "documents": list(
            Document.objects.filter(organization=acme).order_by("pk").values_list("pk", "name")
        ),
        "qa_questions": list(
            Question.objects.filter(organization=acme).order_by("pk").values_list("pk", "question", "answer")
        ),
        "contracts": list(
            Contract.objects.filter(organization=acme)
            .order_by("pk")
            .values_list("pk", "governing_law", "corrected")
        ),
        "contract_corrections": ContractCorrection.objects.filter(organization=acme).count(),
        "report_upload_sets": list(
            UploadSet.objects.filter(organization=acme)
            .order_by("pk")
            .values_list("pk", "name", "mapping", "mapping_confirmed_at")
        ),
        "reports": list(Report.objects.filter(organization=acme).order_by("pk").values_list("pk", "job_id")),
        "alert_webhook": list(AlertWebhook.objects.filter(organization=acme).values_list("url", "secret")),
        "alert_dismissals": AlertDismissal.objects.filter(alert__organization=acme).count(),
        "budgets": list(
            Budget.objects.filter(organization=acme).order_by("pk").values_list("pk", "amount", "capability")
        ),
        "usage_events": UsageEvent.objects.filter(organization=acme).count(),
        "scheduled_switches": list(
            ScheduledSwitch.objects.filter(organization=acme)
            .order_by("pk")
            .values_list("pk", "status", "enabled")
        ),
        "capability_requests": list(
            CapabilityRequest.objects.filter(organization=acme)
            .order_by("pk")
            .values_list("pk", "capability_key", "status", "note")
        ),
        "approval_policy": list(
            ApprovalPolicy.objects.filter(organization=acme).values_list("cost_limit", "every_switch_on")
        ),
    }


@dataclass
class Outsider:
    """One way gina reaches the portal: her browser session, or globex's API key
    (API routes only)."""

    label: str
    client: Client
    headers: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, url: str, data: dict[str, Any]) -> Any:
        call = getattr(self.client, method.lower())
        if method == "GET":
            return call(url, headers=self.headers)
        if url.startswith("/api/"):
            return call(url, data, content_type="application/json", headers=self.headers)
        return call(url, data, headers=self.headers)


def outsiders(world: World, url: str, client_for: Callable[[User], Client]) -> list[Outsider]:
    found = [Outsider("gina's session", client_for(world.gina))]
    if url.startswith("/api/"):
        found.append(
            Outsider("globex API key", Client(), {"Authorization": f"Api-Key {world.globex_api_secret}"})
        )
    return found


def methods_to_try(entry: AcmeObject | CurrentOrganization | Platform) -> list[str]:
    """GET and POST always, plus whatever else the URL accepts (PATCH, DELETE)."""
    return list(dict.fromkeys(("GET", "POST", *entry.methods)))


# Random CSRF tokens can spell "acme" by chance; they are no tenant's data.
CSRF_TOKENS = re.compile(r'(csrfmiddlewaretoken" value="|"x-csrftoken": ")[^"]+')


def assert_no_acme_data(response: Any, world: World, context: str) -> None:
    body = CSRF_TOKENS.sub(r"\1", response.content.decode(errors="replace").lower())
    for marker in world.acme_markers():
        assert marker.lower() not in body, f"{context}: the response shows acme's {marker!r}"
    location = response.headers.get("Location", "").lower()
    assert world.acme_api_key.prefix.lower() not in location, f"{context}: redirected with acme's key"


def _scoped(kind: type) -> list[Any]:
    return [pytest.param(name, id=name) for name in _entries_of(kind)]


# --- the checks -----------------------------------------------------------------


@pytest.mark.parametrize("name", _scoped(AcmeObject))
def test_outsider_gets_404_for_acme_objects(name, world, client_for):
    entry = REGISTRY[name]
    assert isinstance(entry, AcmeObject)
    url = reverse(name, kwargs=entry.kwargs(world))
    before = acme_state(world.acme)
    for outsider in outsiders(world, url, client_for):
        for method in methods_to_try(entry):
            context = f"{method} {url} as {outsider.label}"
            response = outsider.request(method, url, entry.data(world))
            # A method the view does not take is refused before any lookup.
            allowed = {404} if method in entry.methods else {404, 405}
            assert response.status_code in allowed, f"{context}: {response.status_code}"
            assert_no_acme_data(response, world, context)
            assert acme_state(world.acme) == before, f"{context} changed acme's data"


@pytest.mark.parametrize("name", _scoped(Platform))
def test_outsider_gets_403_on_platform_pages(name, world, client_for):
    entry = REGISTRY[name]
    assert isinstance(entry, Platform)
    url = reverse(name, kwargs=entry.kwargs(world))
    before = acme_state(world.acme)
    for outsider in outsiders(world, url, client_for):
        for method in methods_to_try(entry):
            context = f"{method} {url} as {outsider.label}"
            response = outsider.request(method, url, entry.data(world))
            assert response.status_code == 403, f"{context}: {response.status_code}"
            assert_no_acme_data(response, world, context)
            assert acme_state(world.acme) == before, f"{context} changed acme's data"


@pytest.mark.parametrize("forged_session", [False, True], ids=["own-session", "session-names-acme"])
@pytest.mark.parametrize("name", _scoped(CurrentOrganization))
def test_current_organization_pages_show_only_the_callers_organization(
    name, forged_session, world, client_for
):
    """Also when gina's session claims acme is her current organization: the
    middleware only ever picks one of her own."""
    entry = REGISTRY[name]
    assert isinstance(entry, CurrentOrganization)
    url = reverse(name, kwargs=entry.kwargs(world))
    if query := entry.query(world):
        url += "?" + urlencode(query)
    before = acme_state(world.acme)
    for outsider in outsiders(world, url, client_for):
        if forged_session and outsider.label == "gina's session":
            session = outsider.client.session
            session[SESSION_KEY] = world.acme.pk
            session.save()
        for method in methods_to_try(entry):
            context = f"{method} {url} as {outsider.label}"
            response = outsider.request(method, url, entry.data(world))
            # A method the view does not list may be refused (405) or, for a
            # plain page, answered like GET; either way acme stays out of it.
            limit = 400 if method in entry.methods else 500
            assert response.status_code < limit, f"{context}: {response.status_code}"
            assert_no_acme_data(response, world, context)
            if method == "GET" and method in entry.methods:
                body = response.content.decode()
                for expected in entry.shows(world):
                    assert expected in body, f"{context}: globex's {expected!r} is missing"
            assert acme_state(world.acme) == before, f"{context} changed acme's data"


@pytest.mark.parametrize("name", _scoped(UsageReport))
def test_outsiders_cannot_report_usage_for_acme(name, world, client_for):
    url = reverse(name)
    events = [
        {
            "specversion": "1.0",
            "id": f"outsider-{n}",
            "source": "https://globex.test/meter",
            "type": type_,
            "subject": world.acme.slug,
            "data": {"quantity": 5},
        }
        for n, type_ in enumerate(["ocr.pages", "summaries.summaries", "no.meter"])
    ]
    before = acme_state(world.acme)
    for outsider in outsiders(world, url, client_for):
        context = f"POST {url} as {outsider.label}"
        for content_type, body in (
            ("application/cloudevents-batch+json", events),
            ("application/cloudevents+json", events[0]),
        ):
            response = outsider.client.post(
                url, json.dumps(body), content_type=content_type, headers=outsider.headers
            )
            assert_no_acme_data(response, world, context)
            if outsider.label == "gina's session":  # a person reports no usage
                assert response.status_code == 403, f"{context}: {response.status_code}"
            elif isinstance(body, list):
                results = response.json()["results"]
                assert {result["reason"] for result in results} == {"foreign_organization"}, context
            else:
                assert response.status_code == 403, f"{context}: {response.status_code}"
        assert acme_state(world.acme) == before, f"{context} changed acme's usage"


def test_switching_to_acme_keeps_gina_in_globex(world, client_for):
    client = client_for(world.gina)
    response = client.post(reverse("switch_organization"), {"organization": world.acme.slug}, follow=True)
    assert b"You are not a member of that organization." in response.content
    assert b"Globex" in response.content
    assert client.session.get(SESSION_KEY) != world.acme.pk


def test_invitation_sent_from_gina_goes_to_globex(world, client_for):
    client_for(world.gina).post(
        reverse("members"), {"email": "eve@example.test", "role": Role.MEMBER, "organization": "acme"}
    )
    invitation = Invitation.objects.get(email="eve@example.test")
    assert invitation.organization == world.globex


def test_gina_cannot_accept_acmes_invitation_with_its_token(world, client_for):
    """Holding the token of an invitation addressed to someone else does not let
    gina join acme."""
    url = reverse("invitation_accept", kwargs={"token": ACME_INVITATION_TOKEN})
    before = acme_state(world.acme)
    response = client_for(world.gina).post(url)
    assert response.status_code == 400
    assert b"This invitation is for dan@acme.test" in response.content
    assert acme_state(world.acme) == before
    assert not Membership.objects.filter(user=world.gina, organization=world.acme).exists()


@pytest.mark.parametrize("name", _scoped(NotTenantScoped))
def test_unscoped_urls_show_no_acme_data(name, world, client_for):
    entry = REGISTRY[name]
    assert isinstance(entry, NotTenantScoped)
    url = reverse(name, kwargs=entry.kwargs(world))
    for outsider in outsiders(world, url, client_for):
        response = outsider.request("GET", url, {})
        context = f"GET {url} as {outsider.label}"
        assert response.status_code < 500, f"{context}: {response.status_code}"
        assert_no_acme_data(response, world, context)


@pytest.mark.parametrize("name", _scoped(TargetedOrganization))
def test_outsider_cannot_evaluate_acmes_flags(name, world, client_for):
    entry = REGISTRY[name]
    assert isinstance(entry, TargetedOrganization)
    url = reverse(name, kwargs=entry.kwargs(world))
    before = acme_state(world.acme)
    callers = [
        ("gina's session", client_for(world.gina), {}, 401),
        ("globex API key", Client(), {"Authorization": f"Bearer {world.globex_api_secret}"}, 403),
        ("globex API key", Client(), {"X-API-Key": world.globex_api_secret}, 403),
    ]
    for label, client, headers, status in callers:
        context = f"POST {url} as {label}"
        response = client.post(url, entry.body(world), content_type="application/json", headers=headers)
        assert response.status_code == status, f"{context}: {response.status_code}"
        assert_no_acme_data(response, world, context)
        assert acme_state(world.acme) == before, f"{context} changed acme's data"


# --- the organizations API, by caller ---------------------------------------------


def _listed_slugs(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["slug"] for row in response.json()["results"]]


def test_api_lists_only_globex_for_gina(world, client_for):
    response = client_for(world.gina).get(reverse("organization-list"))
    assert _listed_slugs(response) == ["globex"]


def test_api_lists_only_globex_for_a_globex_key(world):
    response = Client().get(
        reverse("organization-list"), headers={"Authorization": f"Api-Key {world.globex_api_secret}"}
    )
    assert _listed_slugs(response) == ["globex"]


def test_api_lists_only_acme_for_an_acme_key(world):
    response = Client().get(
        reverse("organization-list"), headers={"Authorization": f"Api-Key {world.acme_api_secret}"}
    )
    assert _listed_slugs(response) == ["acme"]


def test_the_key_decides_the_organization_not_the_session(world, client_for):
    """The key decides the organization: a globex key sent from a browser signed
    in as alice (acme) still lists globex only."""
    response = client_for(world.alice).get(
        reverse("organization-list"), headers={"Authorization": f"Api-Key {world.globex_api_secret}"}
    )
    assert _listed_slugs(response) == ["globex"]
