"""Bearer tokens on every authenticated endpoint: a token accepted once is still checked
for expiry, signature and revocation on each later request."""

import time
from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import TokenFamily
from accounts.tests.tokens import resigned_with_claims

URL = "/api/sync/status"


def bearer(api_client, token):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api_client


def test_a_token_that_expires_after_it_was_accepted_is_refused(api_client, alice, tokens_for):
    token = AccessToken(tokens_for(alice)["access"])
    # `exp` is whole seconds (truncated): two seconds from now leave at least one.
    token.set_exp(lifetime=timedelta(seconds=2))
    client = bearer(api_client, str(token))
    assert client.get(URL).status_code == 200

    time.sleep(2.1)
    response = client.get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_a_token_revoked_after_it_was_accepted_is_refused(api_client, alice, tokens_for):
    pair = tokens_for(alice)
    client = bearer(api_client, pair["access"])
    assert client.get(URL).status_code == 200

    assert client.post("/api/auth/logout", {"refresh": pair["refresh"]}, format="json").status_code == 205
    response = client.get(URL)

    assert response.status_code == 401


def test_a_tampered_copy_of_an_accepted_token_is_refused(api_client, alice, tokens_for):
    access = tokens_for(alice)["access"]
    assert bearer(api_client, access).get(URL).status_code == 200

    header, payload, signature = access.split(".")
    tampered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"

    assert bearer(api_client, tampered).get(URL).status_code == 401


@pytest.mark.parametrize("exp", [10**20, -(10**20), 2**63])
def test_a_validly_signed_token_with_an_absurd_expiry_is_401_everywhere(api_client, alice, tokens_for, exp):
    tokens = tokens_for(alice)
    access = resigned_with_claims(tokens["access"], exp=exp)
    refresh = resigned_with_claims(tokens["refresh"], exp=exp)

    assert bearer(api_client, access).get(URL).status_code == 401
    api_client.credentials()
    assert api_client.post("/api/auth/verify", {"token": access}, format="json").status_code == 401
    assert api_client.post("/api/auth/refresh", {"refresh": refresh}, format="json").status_code == 401
    signed_in = bearer(api_client, tokens["access"])
    response = signed_in.post("/api/auth/logout", {"refresh": refresh}, format="json")
    assert response.status_code == 400
    assert not TokenFamily.objects.filter(revoked_at__isnull=False).exists()
