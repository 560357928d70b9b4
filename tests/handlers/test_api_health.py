"""The api Lambda end to end on REST API proxy events: liveness, and JSON errors for unknown routes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.api import lambda_handler
from tests.handlers.events import FakeLambdaContext, rest_proxy_event


def invoke(event: dict[str, Any]) -> tuple[int, dict[str, list[str]], Any]:
    response = lambda_handler(event, FakeLambdaContext())  # type: ignore[arg-type]
    return response["statusCode"], response["multiValueHeaders"], json.loads(response["body"])


def test_health_is_ok_without_identity() -> None:
    status, headers, body = invoke(rest_proxy_event("GET", "/health"))
    assert status == 200
    assert body == {"status": "ok"}
    assert headers["Content-Type"] == ["application/json"]


def test_health_ignores_query_parameters() -> None:
    status, _, body = invoke(rest_proxy_event("GET", "/health", query={"verbose": ["1", "2"]}))
    assert (status, body) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/no-such-route"), ("GET", "/health/extra"), ("DELETE", "/")],
)
def test_unknown_route_is_a_json_404(method: str, path: str) -> None:
    status, headers, body = invoke(
        rest_proxy_event(method, path, resource="/{proxy+}", claims={"cognito:username": "ivy"})
    )
    assert status == 404
    assert headers["Content-Type"] == ["application/json"]
    assert body["error"]["code"] == "not-found"
    assert path in body["error"]["message"]


def test_another_method_on_health_is_a_json_405() -> None:
    status, headers, body = invoke(
        rest_proxy_event("POST", "/health", resource="/{proxy+}", claims={"cognito:username": "ivy"})
    )
    assert (status, headers["Allow"], body["error"]["code"]) == (405, ["GET"], "method-not-allowed")
