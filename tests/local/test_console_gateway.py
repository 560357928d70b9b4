"""The console on the local gateway: its assets under /console/ without a token and with the same
security headers as in AWS, config.json naming this gateway, and a sign-in proxy that forwards the
console's two Cognito calls for its own app client and nothing else."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from nas import console
from nas.local.console import ConsoleSite
from tests.local.conftest import Local

DIST = Path(__file__).resolve().parents[2] / "console" / "dist"


def get(
    local: Local,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        local.config["api_url"] + path, method=method, data=body, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def sign_in_request(local: Local, target: str, client_id: str | None = None) -> tuple[int, dict[str, Any]]:
    user = local.config["demo"]["users"]["operator"]
    body = json.dumps(
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": client_id or local.config["app_client_id"],
            "AuthParameters": {"USERNAME": user["username"], "PASSWORD": user["password"]},
        }
    ).encode()
    status, _, payload = get(
        local,
        "/console/cognito",
        method="POST",
        body=body,
        headers={
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{target}",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    return status, json.loads(payload)


@pytest.mark.parametrize("path", ["/console", "/console/", "/console/index.html"])
def test_console_page_is_served_without_a_token_based_at_console(local: Local, path: str) -> None:
    status, headers, body = get(local, path)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'<base href="/console/" />' in body
    assert b'<script src="app.js" defer></script>' in body


def test_every_console_asset_carries_the_same_security_headers_as_in_aws(local: Local) -> None:
    """Locally the imports bucket is moto's, so presigned uploads go to moto's endpoint: that is the
    one origin the CSP adds to the API's own and the user pool's."""
    moto = local.config["aws_endpoint"].rstrip("/")
    for name in ("", "app.js", "app.css", "favicon.svg", "config.json"):
        status, headers, _ = get(local, f"/console/{name}")
        assert status == 200, name
        assert (
            f"connect-src 'self' {console.COGNITO_ENDPOINT.rstrip('/')} {moto};"
            in headers["Content-Security-Policy"]
        )
        for header, value in console.security_headers(upload_origin=moto).items():
            assert headers[header] == value, (name, header)
    _, headers, _ = get(local, "/console/app.js")
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"


def test_config_names_this_gateway_and_the_local_pools_app_client(local: Local) -> None:
    status, _, body = get(local, "/console/config.json")
    assert status == 200
    assert json.loads(body) == {
        "api_url": "/",
        "cognito_endpoint": "/console/cognito",
        "app_client_id": local.config["app_client_id"],
        "tile_url": "",
    }
    assert local.config["console_url"] == f"{local.config['api_url']}/console/"


@pytest.mark.parametrize("path", ["/console/missing.js", "/console/..%2F..%2Fpyproject.toml", "/console/a/b"])
def test_unknown_or_escaping_console_paths_are_404s(local: Local, path: str) -> None:
    status, _, body = get(local, path)
    assert status == 404
    assert json.loads(body)["error"]["code"] == "not-found"


def test_console_assets_are_read_only(local: Local) -> None:
    status, headers, _ = get(local, "/console/app.js", method="POST", body=b"{}")
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"


def test_sign_in_proxy_forwards_initiate_auth_to_the_local_pool(local: Local) -> None:
    status, body = sign_in_request(local, "InitiateAuth")
    assert status == 200
    token = body["AuthenticationResult"]["IdToken"]
    assert local.request("GET", "/alerts?limit=1", token=token)[0] == 200


def test_sign_in_proxy_passes_the_pools_refusal_through(local: Local) -> None:
    status, body = get_wrong_password(local)
    assert status == 400
    assert body["__type"] == "NotAuthorizedException"


def get_wrong_password(local: Local) -> tuple[int, dict[str, Any]]:
    payload = json.dumps(
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": local.config["app_client_id"],
            "AuthParameters": {"USERNAME": "operator-kent", "PASSWORD": "wrong-password-here"},
        }
    ).encode()
    status, _, body = get(
        local,
        "/console/cognito",
        method="POST",
        body=payload,
        headers={"X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth"},
    )
    return status, json.loads(body)


@pytest.mark.parametrize("target", ["ListUsers", "AdminCreateUser", "SignUp", "GetUser"])
def test_sign_in_proxy_forwards_no_other_cognito_call(local: Local, target: str) -> None:
    status, body = sign_in_request(local, target)
    assert status == 400
    assert body["error"]["code"] == "not-forwarded"


def test_sign_in_proxy_forwards_only_for_the_consoles_app_client(local: Local) -> None:
    status, body = sign_in_request(local, "InitiateAuth", client_id="another-client")
    assert status == 400
    assert body["error"]["code"] == "not-forwarded"


def test_an_unbuilt_console_answers_503_saying_how_to_build_it(tmp_path: Path) -> None:
    site = ConsoleSite(dist=tmp_path / "dist", aws_endpoint="http://127.0.0.1:1", app_client_id="c")
    status, _, body = site.respond("GET", "/console/", {}, b"")
    assert status == 503
    assert b"make setup" in body
    status, _, _ = site.respond("GET", "/console/config.json", {}, b"")
    assert status == 200  # the settings do not depend on the build


def test_a_tile_url_adds_its_origin_to_the_image_sources_only() -> None:
    site = ConsoleSite(
        dist=DIST,
        aws_endpoint="http://127.0.0.1:1",
        app_client_id="c",
        tile_url="http://127.0.0.1:9/{z}/{x}/{y}.png",
    )
    csp = site.headers["Content-Security-Policy"]
    assert "img-src 'self' blob: http://127.0.0.1:9;" in csp
    # Calls go where they did without tiles: the API, the user pool, and moto's imports bucket.
    assert "connect-src 'self' https://cognito-idp.eu-west-2.amazonaws.com http://127.0.0.1:1;" in csp
