"""Bearer tokens on every authenticated endpoint: a token accepted once is still checked
for expiry and revocation on each later request."""

import time
from datetime import timedelta

from rest_framework_simplejwt.tokens import AccessToken

from accounts.authentication import _verified_tokens

URL = "/api/sync/status"


def bearer(api_client, token):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api_client


def test_a_token_that_expires_after_it_was_accepted_is_refused(api_client, alice, tokens_for):
    token = AccessToken(tokens_for(alice)["access"])
    token.set_exp(lifetime=timedelta(seconds=1))
    client = bearer(api_client, str(token))
    assert client.get(URL).status_code == 200

    time.sleep(1.1)
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


def test_the_kept_tokens_are_bounded(api_client, alice, tokens_for, monkeypatch):
    monkeypatch.setattr("accounts.authentication.VERIFIED_TOKENS_KEPT", 2)
    tokens = [tokens_for(alice)["access"] for _ in range(5)]

    for token in tokens:
        assert bearer(api_client, token).get(URL).status_code == 200

    assert 1 <= len(_verified_tokens) <= 2
    assert tokens[-1].encode() in _verified_tokens
