"""What an attacker or a fuzzer sends the API: keys that used to poison the audit trail, padding
meant to hide a record, forged page tokens, unknown parameters, bodies where none belong, binary
bodies, undeclared methods. Each must be refused (or served) cleanly, audited, and leave the API
serving the next request."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nas.api.params import encode_token
from nas.domain.timefmt import iso_utc
from tests.api.conftest import AUDITOR_NATIONAL, OPERATOR_KENT, OPERATOR_NATIONAL, ApiAccount
from tests.handlers.events import rest_proxy_event

POISON_QUERIES: list[dict[str, Any]] = [
    {"S": "false"},
    {"M": "x"},
    {"L": "[]"},
    {"NULL": "true"},
    {"N": "1", "B": "Zm9v", "SS": "a", "BOOL": "true"},
    {"": ""},
    {f"k{n:05d}": "x" for n in range(10_000)},
    {"\ud800": "\udfff"},
    {"user": ["a", "b", "c", "d", "e", "f", "g"]},
]


def outcome_event(alert_id: str, **kwargs: Any) -> dict[str, Any]:
    return rest_proxy_event(
        "POST",
        f"/alerts/{alert_id}/outcome",
        claims=OPERATOR_KENT,
        path_parameters={"alert_id": alert_id},
        resource="/alerts/{alert_id}/outcome",
        **kwargs,
    )


@pytest.mark.parametrize("query", POISON_QUERIES, ids=lambda q: ",".join(list(q)[:3])[:20] or "empty")
def test_poison_keys_are_refused_audited_and_the_next_request_succeeds(
    api: ApiAccount, query: dict[str, Any]
) -> None:
    refused = api.call("GET", "/audit", OPERATOR_KENT, query=query)  # the fuzzer's own request
    assert refused.status == 403
    unknown = api.call("GET", "/alerts", OPERATOR_KENT, query=query)
    assert unknown.status == 400
    record = api.audit_for(unknown.request_id)
    assert record["parameters"]["refused"] is True
    assert len(record["parameters"]["query"]) <= 20
    after = api.call("GET", "/alerts", OPERATOR_KENT)
    assert after.status == 200
    verified = api.call("GET", "/audit/verify", AUDITOR_NATIONAL)
    assert (verified.status, verified.body["intact"]) == (200, True)


def test_ten_thousand_keys_are_counted_not_stored(api: ApiAccount) -> None:
    query = {f"k{n:05d}": "x" * 300 for n in range(10_000)}
    reply = api.call("GET", "/alerts", OPERATOR_KENT, query=query)
    parameters = api.audit_for(reply.request_id)["parameters"]
    assert parameters["cut"]["query_names"] == 10_000 - 20
    assert parameters["cut"]["query_chars"] == 20 * (300 - 256)


def test_padding_cannot_hide_what_an_outcome_changed(api: ApiAccount) -> None:
    alert = api.put_alert(read_id="padded")
    padding = {f"a{n:02d}": "x" for n in range(50)}
    padded = api.call(
        "POST",
        f"/alerts/{alert.alert_id}/outcome",
        OPERATOR_KENT,
        body={"outcome": "confirmed"},
        query=padding,
        path_parameters={"alert_id": alert.alert_id},
        resource="/alerts/{alert_id}/outcome",
    )
    assert padded.status == 400  # unknown parameters are refused, so nothing changed
    assert api.call("GET", "/alerts", OPERATOR_KENT).body["alerts"][0]["outcome"] is None
    done = api.call(
        "POST",
        f"/alerts/{alert.alert_id}/outcome",
        OPERATOR_KENT,
        body={"outcome": "confirmed"},
        path_parameters={"alert_id": alert.alert_id},
        resource="/alerts/{alert_id}/outcome",
    )
    arguments = api.audit_for(done.request_id)["parameters"]["arguments"]
    assert arguments == {"alert_id": alert.alert_id, "request": {"outcome": "confirmed", "note_chars": 0}}


def test_a_body_cannot_overwrite_the_user_searched(api: ApiAccount) -> None:
    reply = api.call("GET", "/audit", AUDITOR_NATIONAL, query={"user": "op.essex"}, body={"user": "nobody"})
    assert (reply.status, reply.body["error"]["fields"]) == (400, ["body"])
    parameters = api.audit_for(reply.request_id)["parameters"]
    assert parameters["query"] == {"user": ["op.essex"]}
    assert parameters["body"] == '{"user":"nobody"}'
    searched = api.call("GET", "/audit", AUDITOR_NATIONAL, query={"user": "op.essex"})
    assert api.audit_for(searched.request_id)["parameters"]["arguments"]["user"] == "op.essex"


def test_unknown_query_parameter_is_400_naming_it(api: ApiAccount) -> None:
    reply = api.call("GET", "/alerts", OPERATOR_KENT, query={"vrm": "AB12CDE"})
    assert (reply.status, reply.body["error"]["fields"]) == (400, ["vrm"])


@pytest.mark.parametrize(
    "raised_at",
    [
        "9998-12-31T23:59:59.000000Z",
        "2020-01-01T00:00:00.000000Z",
    ],
)
def test_forged_page_token_outside_the_window_is_400(api: ApiAccount, raised_at: str) -> None:
    token = encode_token({"raised_at": raised_at, "alert_id": "a"})
    reply = api.call("GET", "/alerts", OPERATOR_NATIONAL, query={"page_token": token})
    assert (reply.status, reply.body["error"]["fields"]) == (400, ["page_token"])


def test_page_token_a_day_ahead_is_the_limit(api: ApiAccount) -> None:
    now = datetime.now(UTC)
    inside = encode_token({"raised_at": iso_utc(now + timedelta(hours=23)), "alert_id": "a"})
    outside = encode_token({"raised_at": iso_utc(now + timedelta(hours=25)), "alert_id": "a"})
    assert api.call("GET", "/alerts", OPERATOR_NATIONAL, query={"page_token": inside}).status == 200
    assert api.call("GET", "/alerts", OPERATOR_NATIONAL, query={"page_token": outside}).status == 400


def test_binary_body_is_400_and_audited(api: ApiAccount) -> None:
    from handlers.api import lambda_handler
    from tests.handlers.events import FakeLambdaContext

    alert = api.put_alert(read_id="binary")
    event = outcome_event(alert.alert_id, body=base64.b64encode(b"\xff\xfe\x00garbage").decode())
    event["isBase64Encoded"] = True
    response = lambda_handler(event, FakeLambdaContext())  # type: ignore[arg-type]
    assert response["statusCode"] == 400
    record = api.audit_for(event["requestContext"]["requestId"])
    assert record["parameters"]["body"] == "(binary, 10 bytes)"


def test_undeclared_method_on_a_route_is_405_with_allow(api: ApiAccount) -> None:
    from handlers.api import lambda_handler
    from tests.handlers.events import FakeLambdaContext

    event = rest_proxy_event("DELETE", "/alerts", claims=OPERATOR_KENT, resource="/{proxy+}")
    response = lambda_handler(event, FakeLambdaContext())  # type: ignore[arg-type]
    assert response["statusCode"] == 405
    assert response["multiValueHeaders"]["Allow"] == ["GET"]
    assert api.call("GET", "/no-such-route", OPERATOR_KENT, resource="/{proxy+}").status == 404
