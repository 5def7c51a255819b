"""factory_boy factories for tenancy rows."""

import factory
from django.conf import settings
from django.utils import timezone

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
