"""R-ROLE at the API: 401 without a verified ID token, 403 naming the rule, groups in every shape."""

from __future__ import annotations

import pytest

from nas.api.auth import MalformedGroups, parse_groups
from tests.api.conftest import OPERATOR_KENT, ApiAccount, claims


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("operator", ("operator",)),
        ("operator,auditor", ("operator", "auditor")),
        ("senior-investigator,voi-manager", ("senior-investigator", "voi-manager")),
        ("", ()),
        (None, ()),
    ],
)
def test_groups_claim_as_the_authorizer_passes_it(raw: str | None, expected: tuple[str, ...]) -> None:
    assert parse_groups(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "[auditor]",
        '"auditor"',
        "auditor dpo",
        "[operator, auditor]",
        "auditor,,dpo",
        "auditor,",
        " auditor",
        "auditor;dpo",
        "auditor,dpo\n",
        "a" * 200,
        ",".join(["g"] * 26),
        ["auditor"],
    ],
)
def test_groups_claim_in_any_other_shape_is_refused(raw: object) -> None:
    with pytest.raises(MalformedGroups):
        parse_groups(raw)


@pytest.mark.parametrize("groups", ["[auditor]", "auditor,dpo ", "'auditor'", "auditor|dpo"])
def test_token_with_a_malformed_groups_claim_is_401(api: ApiAccount, groups: str) -> None:
    reply = api.call("GET", "/audit", claims("aud", groups, "NATIONAL"))
    assert (reply.status, reply.body["error"]["code"]) == (401, "unauthenticated")
    assert "cognito:groups" in reply.body["error"]["message"]


def test_no_claims_is_401(api: ApiAccount) -> None:
    reply = api.call("GET", "/alerts")
    assert reply.status == 401
    assert reply.body["error"]["code"] == "unauthenticated"


def test_access_token_is_401(api: ApiAccount) -> None:
    reply = api.call("GET", "/alerts", claims("op.kent", "operator", "KENT", token_use="access"))
    assert reply.status == 401
    assert "token_use" in reply.body["error"]["message"]


def test_missing_lea_claim_is_401(api: ApiAccount) -> None:
    who = {k: v for k, v in OPERATOR_KENT.items() if k != "custom:lea"}
    assert api.call("GET", "/alerts", who).status == 401


def test_wrong_group_is_403_naming_the_rule(api: ApiAccount) -> None:
    reply = api.call("GET", "/alerts", claims("inv.kent", "investigator", "KENT"))
    assert reply.status == 403
    assert reply.body["error"]["code"] == "role-not-permitted"


@pytest.mark.parametrize("groups", ["admin,operator", "auditor,admin", "admin,unknown-group"])
def test_admin_in_another_group_is_403(api: ApiAccount, groups: str) -> None:
    reply = api.call("GET", "/alerts", claims("adm", groups, "NATIONAL"))
    assert reply.status == 403
    assert reply.body["error"]["code"] == "admin-not-exclusive"


def test_admin_alone_cannot_read_alerts(api: ApiAccount) -> None:
    reply = api.call("GET", "/alerts", claims("adm", "admin", "NATIONAL"))
    assert (reply.status, reply.body["error"]["code"]) == (403, "role-not-permitted")


def test_unknown_lea_is_403(api: ApiAccount) -> None:
    reply = api.call("GET", "/alerts", claims("op.x", "operator", "NOWHERE"))
    assert (reply.status, reply.body["error"]["code"]) == (403, "unknown-lea")


def test_authorisation_comes_before_input_validation(api: ApiAccount) -> None:
    """An unauthenticated caller learns nothing about the body schema of a route."""
    reply = api.call(
        "POST",
        "/alerts/x/outcome",
        None,
        body={"outcome": "nonsense"},
        path_parameters={"alert_id": "x"},
        resource="/alerts/{alert_id}/outcome",
    )
    assert reply.status == 401


def test_openapi_lists_the_routes(api: ApiAccount) -> None:
    reply = api.call("GET", "/openapi.json", OPERATOR_KENT)
    assert reply.status == 200
    paths = reply.body["paths"]
    for path in ("/alerts", "/alerts/{alert_id}/outcome", "/audit", "/audit/verify", "/health"):
        assert path in paths
    get_alerts = paths["/alerts"]["get"]
    assert {"200", "400", "401", "403"} <= set(get_alerts["responses"])
    assert {p["name"] for p in get_alerts["parameters"]} == {"since", "limit", "page_token"}
