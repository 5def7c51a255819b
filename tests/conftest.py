"""Shared fixtures: the demo cast (as in `seed_demo`) and signed-in clients.

acme: alice (owner), bob (member), carol (billing). globex: gina (owner).
Platform: ivan (IT admin), fiona (finance).
"""

from collections.abc import Callable

import pytest
from django.test import Client

from portal.models import Organization, Role, User
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Before pytest-django creates the test database: close the connection
    pools opened while tests were collected (the capability registry reads
    external capabilities; modules call it to parametrize). Django renames the
    database to test_… in the settings but keeps a pool it already has, whose
    connections would all go to the database DATABASE_URL names: every test
    in this process on one database, every worker and server it starts on
    another, without the tables (tests/portal/test_database.py checks it)."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()
        connection.close_pool()  # type: ignore[attr-defined]  # the PostgreSQL backend's


@pytest.fixture
def acme(db) -> Organization:
    return OrganizationFactory(name="Acme Corp", slug="acme")


@pytest.fixture
def globex(db) -> Organization:
    return OrganizationFactory(name="Globex", slug="globex")


def _member(email: str, name: str, organization: Organization, role: str) -> User:
    user = UserFactory(email=email, full_name=name)
    MembershipFactory(user=user, organization=organization, role=role)
    return user


@pytest.fixture
def alice(acme) -> User:
    return _member("alice@acme.test", "Alice Archer", acme, Role.OWNER)


@pytest.fixture
def bob(acme) -> User:
    return _member("bob@acme.test", "Bob Baker", acme, Role.MEMBER)


@pytest.fixture
def carol(acme) -> User:
    return _member("carol@acme.test", "Carol Chen", acme, Role.BILLING)


@pytest.fixture
def gina(globex) -> User:
    return _member("gina@globex.test", "Gina Gomez", globex, Role.OWNER)


@pytest.fixture
def ivan(db) -> User:
    return UserFactory(email="ivan@switchboard.test", full_name="Ivan Ito", is_staff=True)


@pytest.fixture
def fiona(db) -> User:
    return UserFactory(email="fiona@switchboard.test", full_name="Fiona Fox", is_finance=True)


@pytest.fixture
def cast(alice, bob, carol, gina, ivan, fiona) -> dict[str, User]:
    """Everyone at once, by first name."""
    return {"alice": alice, "bob": bob, "carol": carol, "gina": gina, "ivan": ivan, "fiona": fiona}


@pytest.fixture
def client_for(db) -> Callable[[User], Client]:
    """A test client signed in as the given user."""

    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture(autouse=True)
def _fresh_toggle_snapshots():
    """Each test starts with no in-process toggle snapshots or cached prices,
    and a registry of the installed apps alone (whatever services an earlier
    test registered and rolled back)."""
    from billing.price_book import forget_cached_prices
    from capabilities.gate import forget_snapshots
    from capabilities.registry import reset_for_tests
    from portal.verified_keys import forget_verified_keys

    forget_snapshots()
    forget_cached_prices()
    reset_for_tests()
    forget_verified_keys()
    yield
    forget_snapshots()
    forget_cached_prices()
    reset_for_tests()
    forget_verified_keys()


@pytest.fixture(autouse=True)
def _no_counted_api_calls():
    """Each test starts and ends with no API calls counted in this process's
    memory, so no test writes another test's calls."""
    from metering import api_calls

    api_calls.forget_counts()
    yield
    api_calls.forget_counts()


@pytest.fixture
def capability_settings(settings) -> Callable[..., None]:
    """Override capability `key`'s settings for one test, on top of any earlier
    override: `capability_settings("documents", MAX_FILES=2)`."""

    def override(key: str, **values: object) -> None:
        merged = {name: dict(given) for name, given in settings.CAPABILITY_SETTINGS.items()}
        merged.setdefault(key, {}).update(values)
        settings.CAPABILITY_SETTINGS = merged

    return override
