"""API key actions: a key is stored hashed, revoked once, and both are audited."""

import pytest

from portal.actions.api_keys import create_api_key, revoke_api_key
from portal.actions.errors import ActionError
from tests.portal.actions import actions_logged

pytestmark = pytest.mark.django_db


class TestApiKeys:
    def test_key_is_hashed_and_revocable(self, alice, acme):
        api_key, secret = create_api_key(alice, acme, name="ERP sync", scope="manage")
        assert secret not in (api_key.hashed_key, api_key.id)
        assert api_key.is_valid(secret)
        revoke_api_key(alice, api_key)
        api_key.refresh_from_db()
        assert api_key.revoked and api_key.revoked_at is not None
        with pytest.raises(ActionError):
            revoke_api_key(alice, api_key)
        assert actions_logged() == ["api_key.created", "api_key.revoked"]
