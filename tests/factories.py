"""factory_boy factories: the tenancy rows, jobs, usage events, and billing's
accounts and pushes, with defaults on the test capability `ocr` (meter `pages`)."""

from datetime import timedelta
from typing import Any

import factory
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing import push
from billing.models import BillingAccount, UsagePush
from capabilities.models import Job
from metering import ledger
from metering.models import UsageEvent
from metering.moments import hour_of
from portal.models import Invitation, Membership, Organization, Role, User, hash_token

PASSWORD = "switchboard-demo"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.django.Password(PASSWORD)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.MEMBER


class InvitationFactory(factory.django.DjangoModelFactory):
    """Pass `token=...` to know the secret; it is hashed like the real thing."""

    class Meta:
        model = Invitation
        exclude = ("token",)

    token = factory.Sequence(lambda n: f"invitation-token-{n}")
    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.test")
    role = Role.MEMBER
    token_hash = factory.LazyAttribute(lambda o: hash_token(o.token))
    invited_by = factory.SubFactory(UserFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + settings.INVITATION_TTL)


class JobFactory(factory.django.DjangoModelFactory):
    """A job row as the runner would leave it, without running anything: pass
    `status=` and the fields that status implies (`result`, `finished_at`...)."""

    class Meta:
        model = Job

    organization = factory.SubFactory(OrganizationFactory)
    capability = "ocr"
    kind = "recognize"
    input = factory.LazyFunction(lambda: {"pages": 3})
    status = Job.Status.QUEUED


class UsageEventFactory(factory.django.DjangoModelFactory):
    """A usage event written through the ledger (`metering.ledger.append`), so
    the hourly, daily and monthly rollups grow with it as they do in production:
    a plain INSERT would leave them behind the ledger. Like the ledger, a known
    idempotency key is ignored, and the row already recorded under it is returned."""

    class Meta:
        model = UsageEvent

    organization = factory.SubFactory(OrganizationFactory)
    capability = "ocr"
    meter = "pages"
    quantity = 1
    occurred_at = factory.LazyFunction(timezone.now)
    idempotency_key = factory.Sequence(lambda n: f"factory:usage:{n}")

    @classmethod
    def _create(cls, model_class: type[UsageEvent], *args: Any, **fields: Any) -> UsageEvent:
        organization = fields.pop("organization")
        created_by = fields.pop("created_by", None)
        record = ledger.UsageRecord(
            organization_id=organization.pk,
            created_by_id=created_by.pk if created_by is not None else None,
            **fields,
        )
        with transaction.atomic():
            ledger.append([record])
        return model_class.objects.get(idempotency_key=record.idempotency_key)


class BillingAccountFactory(factory.django.DjangoModelFactory):
    """An organization's Stripe customer, in good standing, without a subscription."""

    class Meta:
        model = BillingAccount
        django_get_or_create = ("organization",)

    organization = factory.SubFactory(OrganizationFactory)
    stripe_customer_id = factory.Sequence(lambda n: f"cus_test_{n}")


class UsagePushFactory(factory.django.DjangoModelFactory):
    """A push of one closed hour (an hour ago by default), waiting to be sent,
    under the identifier the sender gives it."""

    class Meta:
        model = UsagePush

    organization = factory.SubFactory(OrganizationFactory)
    capability = "ocr"
    meter = "pages"
    window_start = factory.LazyFunction(lambda: hour_of(timezone.now()) - timedelta(hours=1))
    seq = 0
    quantity = 1
    identifier = factory.LazyAttribute(
        lambda o: push.identifier(o.organization.pk, o.capability, o.meter, o.window_start, o.seq)
    )
