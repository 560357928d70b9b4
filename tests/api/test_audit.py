"""R-AUDIT: every request is recorded in one of the day's hash chains before it returns; the chains
verify against their signed digests and show tampering; GET /audit and /audit/verify (in pages)
for auditors; `nas audit verify`; audit failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nas.adapters.audit import DynamoAuditTrail
from nas.adapters.dynamo import to_item
from nas.api.params import encode_token
from nas.api.routes import audit as audit_routes
from nas.cli.main import main
from nas.domain import audit
from nas.domain.timefmt import utc_date
from tests.api.conftest import (
    AUDIT_TABLE,
    AUDITOR_KENT,
    AUDITOR_NATIONAL,
    EVIDENCE_BUCKET,
    OPERATOR_ESSEX,
    OPERATOR_KENT,
    ApiAccount,
    claims,
)
from tests.handlers.events import SOURCE_IP


def test_allowed_and_refused_requests_are_audited(api: ApiAccount) -> None:
    api.put_alert(read_id="a-1")
    ok = api.call("GET", "/alerts", OPERATOR_KENT, query={"limit": "5"})
    refused = api.call("GET", "/alerts", claims("inv", "investigator", "KENT"))
    anonymous = api.call("GET", "/alerts")
    bad = api.call("GET", "/alerts", OPERATOR_KENT, query={"limit": "500"})
    missing = api.call("GET", "/nowhere", OPERATOR_KENT, resource="/{proxy+}")
    expected = [
        (ok, 200, 1),
        (refused, 403, None),
        (anonymous, 401, None),
        (bad, 400, None),
        (missing, 404, None),
    ]
    for reply, status, count in expected:
        record = api.audit_for(reply.request_id)
        assert (record["status"], record.get("result_count"), record["source_ip"]) == (
            status,
            count,
            SOURCE_IP,
        )
    first = api.audit_for(ok.request_id)
    assert (first["user"], first["groups"], first["lea"]) == ("op.kent", ["operator"], "KENT")
    assert (first["method"], first["route"]) == ("GET", "/alerts")
    assert first["parameters"] == {"arguments": {"since": None, "limit": 5, "page_token": None}}
    assert api.audit_for(bad.request_id)["parameters"] == {
        "refused": True,
        "query": {"limit": ["500"]},
        "error": "invalid-request",
    }
    # R-STATS counts refusals by the rule the response named.
    assert api.audit_for(refused.request_id)["parameters"]["error"] == "role-not-permitted"
    assert "error" not in api.audit_for(ok.request_id)["parameters"]
    assert api.audit_for(refused.request_id)["user"] == "inv"
    assert api.audit_for(missing.request_id)["route"] == "/nowhere"
    assert "user" not in api.audit_for(anonymous.request_id)


def test_body_fields_and_why_are_recorded_but_not_the_note(api: ApiAccount) -> None:
    alert = api.put_alert(read_id="a-2")
    reply = api.call(
        "POST",
        f"/alerts/{alert.alert_id}/outcome",
        OPERATOR_KENT,
        body={"outcome": "confirmed", "note": "driver gave name John Smith"},
        path_parameters={"alert_id": alert.alert_id},
        resource="/alerts/{alert_id}/outcome",
    )
    record = api.audit_for(reply.request_id)
    assert record["route"] == "/alerts/{alert_id}/outcome"
    assert record["parameters"] == {
        "arguments": {"alert_id": alert.alert_id, "request": {"outcome": "confirmed", "note_chars": 27}}
    }
    assert "John" not in str(record)
    refused = api.call(
        "POST",
        f"/alerts/{alert.alert_id}/outcome",
        OPERATOR_KENT,
        body={"outcome": "arrested", "note": "John Smith", "purpose": "crime", "case_ref": "KENT-1"},
        path_parameters={"alert_id": alert.alert_id},
        resource="/alerts/{alert_id}/outcome",
    )
    record = api.audit_for(refused.request_id)
    assert record["status"] == 400
    assert record["parameters"] == {
        "refused": True,
        "query": {},
        "body": '{"note_chars":10,"outcome":"arrested"}',
        "error": "invalid-request",
    }
    assert (record["purpose"], record["case_ref"]) == ("crime", "KENT-1")
    assert "John" not in str(record)


def key_of(record: dict[str, Any]) -> dict[str, Any]:
    return to_item({"chain_id": record["chain_id"], "seq": record["seq"]})


def test_chains_verify_then_show_an_altered_field(api: ApiAccount) -> None:
    for _ in range(4):
        api.call("GET", "/alerts", OPERATOR_KENT)
    day = utc_date(datetime.now(UTC))
    reply = api.call("GET", "/audit/verify", AUDITOR_NATIONAL)
    assert reply.status == 200
    assert (reply.body["intact"], reply.body["complete"], reply.body["records"]) == (True, True, 4)
    assert reply.body["next_page_token"] is None
    victim = api.audit_records()[1]
    api.dynamodb.update_item(
        TableName=AUDIT_TABLE,
        Key=key_of(victim),
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=to_item({":s": 403}),
    )
    reply = api.call("GET", "/audit/verify", AUDITOR_NATIONAL, query={"from": day, "to": day})
    assert reply.body["intact"] is False
    assert reply.body["first_break"] | {"detail": ""} == {
        "chain_id": victim["chain_id"],
        "chain_day": day,
        "chain": victim["chain"],
        "seq": victim["seq"],
        "reason": "hash-mismatch",
        "detail": "",
    }


def test_verify_names_the_newest_record_deleted_after_its_digest(api: ApiAccount) -> None:
    for _ in range(3):
        api.call("GET", "/alerts", OPERATOR_KENT)
    assert api.write_digests()["records"] == 3
    victim = api.audit_records()[-1]
    # The newest record of its chain: nothing after it links to it, only the digest knows it.
    newest = max(r["seq"] for r in api.audit_records() if r["chain_id"] == victim["chain_id"])
    victim = next(r for r in api.audit_records() if (r["chain_id"], r["seq"]) == (victim["chain_id"], newest))
    api.dynamodb.delete_item(TableName=AUDIT_TABLE, Key=key_of(victim))
    reply = api.call("GET", "/audit/verify", AUDITOR_NATIONAL)
    assert (reply.body["first_break"]["chain_id"], reply.body["first_break"]["seq"]) == (
        victim["chain_id"],
        victim["seq"],
    )
    assert reply.body["first_break"]["reason"] == "missing"


def test_records_since_the_last_digest_are_listed_as_not_yet_anchored(api: ApiAccount) -> None:
    api.call("GET", "/alerts", OPERATOR_KENT)
    api.write_digests()
    api.call("GET", "/alerts", OPERATOR_KENT)
    reply = api.call("GET", "/audit/verify", AUDITOR_NATIONAL)
    assert reply.body["intact"] is True
    assert reply.body["digests"] >= 1
    # the second /alerts call came after the digest (the verify request is audited after it answers)
    assert sum(u["last_seq"] - u["first_seq"] + 1 for u in reply.body["unanchored"]) == 1


def test_verify_answers_in_pages_within_its_time_budget(
    api: ApiAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(6):
        api.call("GET", "/alerts", OPERATOR_KENT)
    api.write_digests()
    monkeypatch.setattr(audit_routes, "VERIFY_BUDGET_S", 0.0)  # every page stops after its first step
    day = utc_date(datetime.now(UTC))
    records, pages, token = 0, 0, None
    while True:
        query = {"from": day, "to": day} | ({"page_token": token} if token else {})
        reply = api.call("GET", "/audit/verify", AUDITOR_NATIONAL, query=query)
        assert reply.status == 200, reply.body
        assert reply.body["intact"] is True
        records += reply.body["records"]
        pages += 1
        token = reply.body["next_page_token"]
        if token is None:
            assert reply.body["complete"] is True
            break
        assert pages < 200
    assert pages > 6
    assert records >= 6  # and each verify request is itself appended while paging
    other_day = api.call(
        "GET", "/audit/verify", AUDITOR_NATIONAL, query={"from": audit.previous_day(day), "to": day}
    )
    assert other_day.status == 200
    first_page = api.call("GET", "/audit/verify", AUDITOR_NATIONAL, query={"from": day, "to": day})
    reused = api.call(
        "GET",
        "/audit/verify",
        AUDITOR_NATIONAL,
        query={"from": audit.previous_day(day), "to": day, "page_token": first_page.body["next_page_token"]},
    )
    assert (reused.status, reused.body["error"]["fields"]) == (400, ["page_token"])


def test_audit_failure_is_503_and_returns_no_data(api: ApiAccount) -> None:
    api.put_alert(read_id="secret-data")
    api.dynamodb.delete_table(TableName=AUDIT_TABLE)
    reply = api.call("GET", "/alerts", OPERATOR_KENT)
    assert reply.status == 503
    assert reply.body == {"error": {"code": "audit-unavailable", "message": reply.body["error"]["message"]}}
    assert "secret-data" not in str(reply.body)


def test_audit_query_scoped_to_the_auditors_lea(api: ApiAccount) -> None:
    api.call("GET", "/alerts", OPERATOR_KENT)
    api.call("GET", "/alerts", OPERATOR_ESSEX)
    api.call("GET", "/alerts", claims("inv", "investigator", "KENT"))
    kent = api.call("GET", "/audit", AUDITOR_KENT)
    assert kent.status == 200
    assert {e["lea"] for e in kent.body["events"]} == {"KENT"}
    assert {e["user"] for e in kent.body["events"]} == {"op.kent", "inv"}
    event = kent.body["events"][0]
    assert list(event) == [
        "event_id",
        "at",
        "user",
        "groups",
        "lea",
        "method",
        "route",
        "parameters",
        "purpose",
        "reason",
        "case_ref",
        "status",
        "result_count",
        "request_id",
        "source_ip",
    ]
    assert event["event_id"] in {f"{r['chain_id']}:{r['seq']}" for r in api.audit_records()}
    national = api.call("GET", "/audit", AUDITOR_NATIONAL)
    users = [e["user"] for e in national.body["events"]]
    assert {"op.kent", "op.essex", "inv", "aud.kent"} <= set(users)
    assert users[0] == "aud.kent"  # newest first, and the KENT auditor's own query is in the trail
    essex_by_kent = api.call("GET", "/audit", AUDITOR_KENT, query={"user": "op.essex"})
    assert essex_by_kent.body["events"] == []
    essex = api.call("GET", "/audit", AUDITOR_NATIONAL, query={"user": "op.essex"})
    assert [e["user"] for e in essex.body["events"]] == ["op.essex"]


def test_audit_query_filters_and_pages(api: ApiAccount) -> None:
    for _ in range(3):
        api.call("GET", "/alerts", OPERATOR_KENT)
    api.call("GET", "/alerts", claims("inv", "investigator", "KENT"))
    refused = api.call("GET", "/audit", AUDITOR_KENT, query={"action": "GET /alerts", "user": "inv"})
    assert [e["status"] for e in refused.body["events"]] == [403]
    seen: list[str] = []
    token = None
    for _ in range(5):
        query = {"action": "/alerts", "limit": "2"} | ({"page_token": token} if token else {})
        page = api.call("GET", "/audit", AUDITOR_NATIONAL, query=query)
        seen += [e["event_id"] for e in page.body["events"]]
        token = page.body["next_page_token"]
        if token is None:
            break
    assert len(seen) == 4 == len(set(seen))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "monday"}, "from"),
        ({"to": "2026-01-01"}, "to"),
        ({"action": "FETCH it now"}, "action"),
        ({"limit": "1000"}, "limit"),
        ({"page_token": "Zm9v"}, "page_token"),
        ({"to": "0001-01-01T00:00:00Z"}, "to"),
        ({"to": "9999-12-31T23:59:59-05:00"}, "to"),
        ({"from": "0001-01-01T00:00:00+05:00"}, "from"),
        (
            {"page_token": encode_token({"day": utc_date(datetime.now(UTC)), "below": [10**40] * 8})},
            "page_token",
        ),
        (
            {"page_token": encode_token({"day": utc_date(datetime.now(UTC)), "below": [None] * 7})},
            "page_token",
        ),
        ({"page_token": encode_token({"day": "2001-01-01", "below": [None] * 8})}, "page_token"),
    ],
)
def test_bad_audit_query_is_400(api: ApiAccount, query: dict[str, str], field: str) -> None:
    reply = api.call("GET", "/audit", AUDITOR_KENT, query=query)
    assert reply.status == 400
    assert reply.body["error"]["fields"] == [field]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "0001-01-01"}, "from"),
        ({"from": "2026-01-01", "to": "9999-12-31"}, "to"),
        ({"from": "1901-01-01", "to": "9998-12-31"}, "to"),
        ({"from": "monday"}, "from"),
        ({"page_token": "Zm9v"}, "page_token"),
        (
            {"page_token": encode_token({"day": "2001-01-01", "chain": 0, "seq": 1, "digest_seq": 0})},
            "page_token",
        ),
    ],
)
def test_bad_verify_days_are_400(api: ApiAccount, query: dict[str, str], field: str) -> None:
    reply = api.call("GET", "/audit/verify", AUDITOR_NATIONAL, query=query)
    assert reply.status == 400
    assert (reply.body["error"]["code"], reply.body["error"]["fields"]) == ("invalid-request", [field])


def _days_with_a_gap(api: ApiAccount) -> tuple[str, str]:
    """Records on D-1 and D+1, none on D; returns (D, D+1)."""
    trail = DynamoAuditTrail(api.dynamodb, AUDIT_TABLE)
    now = datetime.now(UTC)
    for moment in (now - timedelta(days=3), now - timedelta(days=1)):
        event = {"at": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "user": "u", "groups": [], "status": 200}
        trail.append(event, moment)
    return utc_date(now - timedelta(days=2)), utc_date(now - timedelta(days=1))


def test_verify_from_an_empty_day(api: ApiAccount) -> None:
    empty_day, day = _days_with_a_gap(api)
    reply = api.call("GET", "/audit/verify", AUDITOR_NATIONAL, query={"from": empty_day, "to": day})
    assert reply.status == 200
    assert (reply.body["intact"], reply.body["records"], reply.body["breaks"]) == (True, 1, [])
    assert reply.body["chains"] == 2 * audit.AUDIT_CHAINS_PER_DAY


def cli_args(api: ApiAccount) -> list[str]:
    return [
        "audit",
        "verify",
        "--audit-table",
        AUDIT_TABLE,
        "--evidence-bucket",
        EVIDENCE_BUCKET,
        "--signing-key",
        api.signing_key,
        "--region",
        "eu-west-2",
    ]


def test_cli_verify_from_an_empty_day(api: ApiAccount, capsys: pytest.CaptureFixture[str]) -> None:
    empty_day, day = _days_with_a_gap(api)
    api.write_digests()
    assert main([*cli_args(api), "--from", empty_day, "--to", day]) == 0
    assert "intact: 1 record(s) over 2 day(s), 16 signed digest(s); 0 record(s) not yet anchored" in (
        capsys.readouterr().out
    )


def test_page_token_of_another_lea_is_refused(api: ApiAccount) -> None:
    at = datetime.now(UTC) - timedelta(hours=1)
    token = encode_token(
        {
            "by": "lea",
            "key": "ESSEX",
            "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "chain": f"{utc_date(at)}/0",
            "seq": 1,
        }
    )
    reply = api.call("GET", "/audit", AUDITOR_KENT, query={"page_token": token})
    assert (reply.status, reply.body["error"]["fields"]) == (400, ["page_token"])


def test_operator_cannot_read_the_audit_trail(api: ApiAccount) -> None:
    assert api.call("GET", "/audit", OPERATOR_KENT).status == 403
    assert api.call("GET", "/audit/verify", OPERATOR_KENT).status == 403


def test_cli_verify_exit_codes(api: ApiAccount, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(3):
        api.call("GET", "/alerts", OPERATOR_KENT)
    api.write_digests()
    day = utc_date(datetime.now(UTC))
    assert main([*cli_args(api), "--day", day]) == 0
    assert "intact" in capsys.readouterr().out
    victim = api.audit_records()[0]
    api.dynamodb.update_item(
        TableName=AUDIT_TABLE,
        Key=key_of(victim),
        UpdateExpression="SET #u = :u",
        ExpressionAttributeNames={"#u": "user"},
        ExpressionAttributeValues=to_item({":u": "someone-else"}),
    )
    assert main([*cli_args(api), "--from", day, "--to", day]) == 1
    assert f"BROKEN at {victim['chain_id']} seq {victim['seq']}: hash-mismatch" in capsys.readouterr().out
    assert main([*cli_args(api), "--day", day, "--from", day]) == 2
    assert main(["audit", "verify", "--audit-table", AUDIT_TABLE, "--region", "eu-west-2", "--day", day]) == 2
    assert "--evidence-bucket" in capsys.readouterr().err
