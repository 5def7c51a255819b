"""The demo's external capability, Translation: registered by the demo's IT
admin through `capabilities.services` as any IT admin would, switched on by
Acme's owner, and given a service credential that `seed_demo` writes to a file
for the demo's translation service (`demo.translation_service`, a process of
`make run`) to read.

Safe to repeat: a registration in place is kept (only its addresses follow the
service's port); a credential is issued again only when its file is missing
(the earlier one is then revoked)."""

from __future__ import annotations

import copy
import os
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from django.conf import settings

from capabilities import services
from capabilities.models import ExternalCapability, ServiceCredential
from capabilities.registry import Capability, DemoMeter, registry
from demo import translation_service
from portal.models import User

KEY = translation_service.KEY
CREDENTIAL_NAME = "Demo translation service"
CREDENTIAL_FILE = "translation-service.credential"
# A working day of Acme's messages (Globex-sized customers scale it down, see demo.usage).
DEMO_USAGE = (DemoMeter(translation_service.METER, 40, 600),)
DEMO_REASON = "Answer French-speaking customers without waiting for the agency"


def spec(base_url: str) -> services.ServiceSpec:
    """What the demo's IT admin declares, the service answering at `base_url`."""
    return services.ServiceSpec(
        key=KEY,
        name="Translation",
        summary="Translates customers' messages from English into French, priced by the character.",
        category="Language",
        documentation_url=f"{base_url}/docs",
        health_url=f"{base_url}/healthz",
        version="1.0.0",
        meters=[
            services.MeterSpec(
                key=translation_service.METER,
                unit="character",
                unit_price=Decimal("0.00002"),  # $0.02 per 1,000 characters
                description="Characters of the text sent to be translated",
            )
        ],
    )


def credential_file() -> Path:
    """Where seed_demo writes the service's credential: the quickstart's var folder."""
    return Path(settings.VAR_DIR) / CREDENTIAL_FILE


def ensure_registered(admin: User) -> ExternalCapability:
    """Translation, registered by `admin` unless it is already; its addresses
    follow the service's (TRANSLATION_PORT or TRANSLATION_SERVICE_URL)."""
    wanted = spec(translation_service.service_url(os.environ))
    service = ExternalCapability.objects.filter(key=KEY).first()
    if service is None:
        return services.register(admin, wanted)
    current = services.spec_of(service)
    if not service.is_retired and (current.documentation_url, current.health_url) != (
        wanted.documentation_url,
        wanted.health_url,
    ):
        moved = replace(current, documentation_url=wanted.documentation_url, health_url=wanted.health_url)
        service = services.change(admin, service, moved)
    return service


def demonstrated() -> Capability:
    """The registry's Translation with a made-up working day for the history
    (a service declares none: its usage comes from the service)."""
    shown = copy.copy(registry().get(KEY))
    shown.demo_usage = DEMO_USAGE
    shown.demo_reason = DEMO_REASON
    return shown


def ensure_credential(admin: User, service: ExternalCapability, path: Path) -> str:
    """Write a credential for the service to `path` (owner-only) unless the file
    is there; say what was done."""
    if path.exists():
        return f"Translation's service credential: kept in {path}."
    if service.is_retired:
        return "Translation is retired: no credential written."
    for earlier in ServiceCredential.objects.filter(capability=service, name=CREDENTIAL_NAME, revoked=False):
        services.revoke_credential(admin, earlier)  # its secret was in the file that is gone
    credential, secret = services.issue_credential(admin, service, name=CREDENTIAL_NAME)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    path.chmod(0o600)
    return f"Translation's service credential {credential.prefix}… written to {path} (owner-only)."
