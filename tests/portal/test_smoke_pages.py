"""Every page of the tenancy app renders for the role it is for."""

import pytest


@pytest.mark.parametrize("url", ["/", "/members/", "/api-keys/", "/accounts/password/change/"])
def test_owner_pages_render(client_for, alice, url):
    response = client_for(alice).get(url)
    assert response.status_code == 200
    assert b"Acme Corp" in response.content
