"""The local gateway refuses requests whose body it cannot frame (bad or negative Content-Length,
chunked encoding, over 10 MB) and closes the connection, so an unread body is never parsed as a
second request; an authorizer that cannot decide is a 500, not a 401 or the handler's 502."""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from nas.local.auth import Jwks, TokenVerifier, Unauthorized
from nas.local.gateway import MAX_BODY_BYTES, Gateway
from nas.local.moto_server import LOOPBACK, free_port
from tests.local.conftest import Local

# A complete request hidden where the body would be: answered only if the gateway smuggles it.
SMUGGLED = b"GET /health HTTP/1.1\r\nHost: smuggled\r\n\r\n"


def exchange(url: str, head: str, body: bytes = b"", *, timeout_s: float = 10.0) -> tuple[bytes, bool]:
    """Sends raw bytes to the gateway; everything it answered, and whether it closed the connection
    (rather than waiting for more) before `timeout_s`."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    received = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout_s) as sock:
        sock.sendall(head.encode("latin-1") + body)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return received, False
            except ConnectionResetError:
                return received, True
            if not chunk:
                return received, True
            received += chunk
    return received, False


def responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The HTTP/1.1 responses in `raw`, in order (each framed by its Content-Length)."""
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {n.strip().lower(): v.strip() for n, _, v in (h.partition(":") for h in header_lines)}
        length = int(headers.get("content-length", "0"))
        found.append((int(status_line.split()[1]), headers, rest[:length]))
        raw = rest[length:]
    return found


def refused(raw: bytes, status: int, code: str) -> dict[str, Any]:
    [(answered, headers, body)] = responses(raw)  # one response: nothing smuggled after it
    assert answered == status
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    error: dict[str, Any] = json.loads(body)["error"]
    assert error["code"] == code
    return error


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "0x10", ""])
def test_a_content_length_that_is_not_a_byte_count_is_400_and_closes(local: Local, length: str) -> None:
    raw, closed = exchange(
        local.config["api_url"],
        f"POST /alerts HTTP/1.1\r\nHost: gw\r\nContent-Length: {length}\r\n\r\n",
        SMUGGLED,
    )
    assert closed
    error = refused(raw, 400, "invalid-request")
    assert "Content-Length" in error["message"]


def test_conflicting_content_lengths_are_400_and_close(local: Local) -> None:
    raw, closed = exchange(
        local.config["api_url"],
        "POST /alerts HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n",
        SMUGGLED,
    )
    assert closed
    refused(raw, 400, "invalid-request")


def test_an_oversized_body_is_413_and_its_unread_bytes_are_not_a_second_request(local: Local) -> None:
    raw, closed = exchange(
        local.config["api_url"],
        f"POST /alerts HTTP/1.1\r\nHost: gw\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n",
        SMUGGLED,
    )
    assert closed
    refused(raw, 413, "too-large")


def test_chunked_transfer_encoding_is_411_and_its_chunks_are_not_a_second_request(local: Local) -> None:
    chunk = SMUGGLED
    raw, closed = exchange(
        local.config["api_url"],
        "POST /alerts HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n",
        f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n",
    )
    assert closed
    refused(raw, 411, "length-required")


def test_a_good_request_keeps_the_connection_open(local: Local) -> None:
    raw, closed = exchange(
        local.config["api_url"], "GET /health HTTP/1.1\r\nHost: gw\r\n\r\n" + SMUGGLED.decode(), timeout_s=2.0
    )
    assert not closed  # keep-alive as before: both pipelined requests answered, connection open
    assert [status for status, _, _ in responses(raw)] == [200, 200]


# --- the authorizer ----------------------------------------------------------------------------

ISSUER = "https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_test"
AUDIENCE = "client"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def verifier_for(key: rsa.RSAPrivateKey, now: float) -> TokenVerifier:
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "k1", "alg": "RS256", "use": "sig"}
    return TokenVerifier(Jwks(lambda: {"keys": [jwk]}), issuer=ISSUER, audience=AUDIENCE, clock=lambda: now)


def id_token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    payload = {"iss": ISSUER, "aud": AUDIENCE, "token_use": "id", "sub": "u"} | claims
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})


@pytest.mark.parametrize("exp", ["soon", "1700000000", True, [1]])
def test_a_token_without_a_numeric_exp_is_refused_as_such(signing_key: rsa.RSAPrivateKey, exp: Any) -> None:
    verifier = verifier_for(signing_key, now=1_000.0)
    with pytest.raises(Unauthorized, match="token has no numeric exp"):
        verifier.verify(id_token(signing_key, exp=exp))


def test_a_numeric_exp_is_still_checked_against_the_clock(signing_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(signing_key, now=1_000.0)
    assert verifier.verify(id_token(signing_key, exp=1_001))["sub"] == "u"
    with pytest.raises(Unauthorized, match="token has expired"):
        verifier.verify(id_token(signing_key, exp=1_000))


@pytest.fixture
def broken_authorizer_gateway() -> Iterator[tuple[Gateway, list[Mapping[str, Any]]]]:
    """A gateway whose JWKS endpoint is down (as when moto has gone away)."""

    def unreachable() -> Mapping[str, Any]:
        raise urllib.error.URLError("connection refused")

    calls: list[Mapping[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> Mapping[str, Any]:
        calls.append(event)
        return {"statusCode": 200, "body": "{}"}

    verifier = TokenVerifier(Jwks(unreachable), issuer=ISSUER, audience=AUDIENCE)
    gateway = Gateway(handler, verifier, port=free_port(), host=LOOPBACK)
    gateway.serve()
    try:
        yield gateway, calls
    finally:
        gateway.stop()


def test_an_authorizer_failure_is_500_authorizer_unavailable_not_the_handlers_502(
    broken_authorizer_gateway: tuple[Gateway, list[Mapping[str, Any]]],
    signing_key: rsa.RSAPrivateKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway, calls = broken_authorizer_gateway
    request = urllib.request.Request(gateway.url + "/alerts")  # noqa: S310 - loopback
    request.add_header("Authorization", f"Bearer {id_token(signing_key, exp=time.time() + 600)}")
    with caplog.at_level(logging.ERROR, logger="nas.local.gateway"):
        with pytest.raises(urllib.error.HTTPError) as answered:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback
        error = json.loads(answered.value.read())["error"]
    assert answered.value.code == 500
    assert error["code"] == "authorizer-unavailable"
    assert calls == []  # the api handler never ran
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("authorizer failed") for m in messages)
    assert not any(m.startswith("api handler failed") for m in messages)


def test_a_bad_token_is_still_401_when_the_jwks_is_down(
    broken_authorizer_gateway: tuple[Gateway, list[Mapping[str, Any]]],
) -> None:
    gateway, calls = broken_authorizer_gateway
    request = urllib.request.Request(gateway.url + "/alerts")  # noqa: S310 - loopback
    request.add_header("Authorization", "Bearer not.a.jwt")
    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback
    assert answered.value.code == 401
    assert calls == []


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "BREW"])
def test_an_undeclared_method_is_a_json_405_not_an_html_501(local: Local, method: str) -> None:
    raw, closed = exchange(local.config["api_url"], f"{method} /alerts HTTP/1.1\r\nHost: x\r\n\r\n")
    error = refused(raw, 405, "method-not-allowed")
    assert method in error["message"]
    assert closed
    [(_, headers, _)] = responses(raw)
    assert "GET" in headers["allow"]


def test_a_body_that_is_not_utf8_is_400(local: Local) -> None:
    body = b'\xff\xfe{"outcome": "confirmed"}'
    token = local.id_token("operator")
    head = (
        "POST /alerts/x/outcome HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    raw, _ = exchange(local.config["api_url"], head, body)
    [(status, headers, answer)] = responses(raw)
    assert (status, headers["content-type"]) == (400, "application/json")
    assert json.loads(answer)["error"]["code"] == "invalid-request"
