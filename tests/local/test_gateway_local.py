"""The local gateway verifies Cognito ID tokens as API Gateway's authorizer does, before the api
handler runs; GET /health needs none."""

from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from nas.local.auth import gateway_claims
from tests.local.conftest import Local


def test_health_needs_no_token(local: Local) -> None:
    assert local.request("GET", "/health")[0::2] == (200, {"status": "ok"})


def test_no_token_is_401_without_calling_the_handler(local: Local) -> None:
    status, headers, body = local.request("GET", "/alerts")
    assert status == 401
    assert headers["Content-Type"] == "application/json"
    assert body["error"]["code"] == "unauthorized"
    assert "missing" in body["error"]["message"]


def test_garbage_token_is_401(local: Local) -> None:
    status, _, body = local.request("GET", "/alerts", token="not.a.jwt")
    assert (status, body["error"]["code"]) == (401, "unauthorized")


def test_a_valid_id_token_reaches_the_handler(local: Local) -> None:
    token = local.id_token("operator")
    assert local.request("GET", "/health", token=token)[0::2] == (200, {"status": "ok"})
    status, _, body = local.request("GET", "/no-such-route", token=token)
    # 404 from the handler's resolver (its JSON error), not from the gateway.
    assert status == 404
    assert body["error"]["code"] == "not-found"


def test_expired_token_is_401(local: Local) -> None:
    token = local.id_token("operator")
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    local.clock.offset_s = exp - time.time() + 1
    try:
        status, _, body = local.request("GET", "/no-such-route", token=token)
    finally:
        local.clock.offset_s = 0.0
    assert status == 401
    assert "expired" in body["error"]["message"]
    assert local.request("GET", "/no-such-route", token=token)[0] == 404


def test_token_signed_by_another_key_is_401(local: Local) -> None:
    genuine = local.id_token("operator")
    claims = jwt.decode(genuine, options={"verify_signature": False})
    kid = jwt.get_unverified_header(genuine)["kid"]
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": kid})
    status, _, body = local.request("GET", "/no-such-route", token=forged)
    assert status == 401
    assert "signature" in body["error"]["message"]


def test_access_token_is_401(local: Local) -> None:
    status, _, body = local.request("GET", "/no-such-route", token=local.access_token("operator"))
    assert status == 401
    assert "ID token" in body["error"]["message"]


def test_token_for_another_app_client_is_401(local: Local) -> None:
    cognito = local.client("cognito-idp")
    other = cognito.create_user_pool_client(
        UserPoolId=local.config["user_pool_id"],
        ClientName="another",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    user = local.config["demo"]["users"]["operator"]
    token = cognito.initiate_auth(
        ClientId=other,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user["username"], "PASSWORD": user["password"]},
    )["AuthenticationResult"]["IdToken"]
    status, _, body = local.request("GET", "/no-such-route", token=token)
    assert status == 401
    assert "app client" in body["error"]["message"]


def test_claims_reach_the_handler_as_strings() -> None:
    claims = gateway_claims(
        {
            "cognito:groups": ["operator", "analyst"],
            "exp": 1700000000,
            "email_verified": True,
            "custom:lea": "KENT",
        }
    )
    assert claims == {
        "cognito:groups": "operator,analyst",
        "exp": "1700000000",
        "email_verified": "true",
        "custom:lea": "KENT",
    }
