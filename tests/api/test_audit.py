"""R-AUDIT: every request is recorded in the hash chain before it returns; the chain verifies and
shows tampering; GET /audit and /audit/verify for auditors; `nas audit verify`; audit failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nas.adapters.audit import DynamoAuditTrail
from nas.adapters.dynamo import to_item
from nas.api.params import encode_token
from nas.cli.main import main
from nas.domain import audit
from nas.domain.timefmt import utc_date
from tests.api.conftest import (
    AUDIT_TABLE,
    AUDITOR_KENT,
    AUDITOR_NATIONAL,
    OPERATOR_ESSEX,
    OPERATOR_KENT,
    ApiAccount,
    claims,
)
from tests.handlers.events import SOURCE_IP

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


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
    assert api.audit_for(bad.request_id)["parameters"] == {"refused": True, "query": {"limit": ["500"]}}
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
    }
    assert (record["purpose"], record["case_ref"]) == ("crime", "KENT-1")
    assert "John" not in str(record)


def test_chain_verifies_then_shows_an_altered_field(api: ApiAccount) -> None:
    for _ in range(4):
        api.call("GET", "/alerts", OPERATOR_KENT)
    day = utc_date(datetime.now(UTC))
    reply = api.call("GET", "/audit/verify", AUDITOR_NATIONAL)
    assert reply.status == 200
    assert reply.body["intact"] is True
    assert reply.body["records"] == 4
    api.dynamodb.update_item(
        TableName=AUDIT_TABLE,
        Key=to_item({"chain_day": day, "seq": 2}),
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=to_item({":s": 403}),
    )
    reply = api.call("GET", "/audit/verify", AUDITOR_NATIONAL, query={"from": day, "to": day})
    assert reply.body["intact"] is False
    assert reply.body["first_break"] | {"detail": ""} == {
        "chain_day": day,
        "seq": 2,
        "reason": "hash-mismatch",
        "detail": "",
    }


def test_chain_shows_a_deleted_record(api: ApiAccount) -> None:
    for _ in range(4):
        api.call("GET", "/alerts", OPERATOR_KENT)
    day = utc_date(datetime.now(UTC))
    api.dynamodb.delete_item(TableName=AUDIT_TABLE, Key=to_item({"chain_day": day, "seq": 3}))
    report = audit.verify_chain(DynamoAuditTrail(api.dynamodb, AUDIT_TABLE).day(day))
    assert not report.intact
    assert (report.breaks[0].seq, report.breaks[0].reason) == (4, "gap")


def test_verify_chain_detects_reordering_and_wrong_links() -> None:
    records: list[dict[str, Any]] = []
    prev = audit.GENESIS_HASH
    for seq in range(1, 5):
        event = {"at": "2026-01-02T10:00:00.000000Z", "user": f"u{seq}", "status": 200, "groups": []}
        record = audit.chain_record(event, chain_day="2026-01-02", seq=seq, prev_hash=prev)
        prev = record["hash"]
        records.append(record)
    assert audit.verify_chain(records).intact
    swapped = [records[0], records[2], records[1], records[3]]
    assert {b.reason for b in audit.verify_chain(swapped).breaks} >= {"out-of-order", "prev-link"}
    relinked = audit.chain_record(
        {"at": "2026-01-02T10:00:00.000000Z", "user": "u2"}, chain_day="2026-01-02", seq=2, prev_hash="f" * 64
    )
    report = audit.verify_chain([records[0], relinked, *records[2:]])
    assert [(b.seq, b.reason) for b in report.breaks][:1] == [(2, "prev-link")]
    assert not audit.verify_chain(records, genesis_prev_hash="a" * 64).intact


def test_days_link_through_a_seal(api: ApiAccount) -> None:
    trail = DynamoAuditTrail(api.dynamodb, AUDIT_TABLE)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    event = {"at": "", "user": "u", "groups": [], "status": 200}
    for _ in range(2):
        trail.append(event | {"at": yesterday.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}, yesterday)
    today = datetime.now(UTC)
    trail.append(event | {"at": today.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}, today)
    day_before, day = utc_date(yesterday), utc_date(today)
    closed = trail.day(day_before)
    assert [r["kind"] for r in closed] == ["event", "event", "seal"]
    # a late writer for yesterday lands on today, after the seal
    trail.append(event | {"at": yesterday.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}, yesterday)
    assert [r["seq"] for r in trail.day(day)] == [1, 2]
    assert trail.day(day)[0]["prev_hash"] == closed[-1]["hash"]
    records = closed + trail.day(day)
    assert audit.verify_chain(records, genesis_prev_hash=trail.last_hash_before(day_before)).intact
    assert audit.verify_chain(trail.day(day), genesis_prev_hash=trail.last_hash_before(day)).intact


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
            {"page_token": encode_token({"chain_day": utc_date(datetime.now(UTC)), "seq": 10**40})},
            "page_token",
        ),
        (
            {"page_token": encode_token({"chain_day": utc_date(datetime.now(UTC)), "seq": 10**9})},
            "page_token",
        ),
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
    ],
)
def test_bad_verify_days_are_400(api: ApiAccount, query: dict[str, str], field: str) -> None:
    reply = api.call("GET", "/audit/verify", AUDITOR_NATIONAL, query=query)
    assert reply.status == 400
    assert (reply.body["error"]["code"], reply.body["error"]["fields"]) == ("invalid-request", [field])


def _days_with_a_gap(api: ApiAccount) -> tuple[str, str]:
    """Records on D-1 and D+1, none on D (D+1's first record links to GENESIS_HASH); returns (D, D+1)."""
    trail = DynamoAuditTrail(api.dynamodb, AUDIT_TABLE)
    now = datetime.now(UTC)
    for moment in (now - timedelta(days=3), now - timedelta(days=1)):
        event = {"at": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "user": "u", "groups": [], "status": 200}
        trail.append(event, moment)
    return utc_date(now - timedelta(days=2)), utc_date(now - timedelta(days=1))


def test_verify_from_an_empty_day_links_to_the_first_day_with_records(api: ApiAccount) -> None:
    empty_day, day = _days_with_a_gap(api)
    reply = api.call("GET", "/audit/verify", AUDITOR_NATIONAL, query={"from": empty_day, "to": day})
    assert reply.status == 200
    assert (reply.body["intact"], reply.body["records"], reply.body["breaks"]) == (True, 1, [])


def test_cli_verify_from_an_empty_day(api: ApiAccount, capsys: pytest.CaptureFixture[str]) -> None:
    empty_day, day = _days_with_a_gap(api)
    args = ["audit", "verify", "--audit-table", AUDIT_TABLE, "--region", "eu-west-2"]
    assert main([*args, "--from", empty_day, "--to", day]) == 0
    assert "intact: 1 record(s) over 2 day(s)" in capsys.readouterr().out


def test_page_token_of_another_lea_is_refused(api: ApiAccount) -> None:
    token = encode_token(
        {"lea": "ESSEX", "at": "2026-01-01T00:00:00.000000Z", "chain_day": "2026-01-01", "seq": 1}
    )
    reply = api.call("GET", "/audit", AUDITOR_KENT, query={"page_token": token})
    assert (reply.status, reply.body["error"]["fields"]) == (400, ["page_token"])


def test_operator_cannot_read_the_audit_trail(api: ApiAccount) -> None:
    assert api.call("GET", "/audit", OPERATOR_KENT).status == 403
    assert api.call("GET", "/audit/verify", OPERATOR_KENT).status == 403


def test_cli_verify_exit_codes(api: ApiAccount, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(3):
        api.call("GET", "/alerts", OPERATOR_KENT)
    day = utc_date(datetime.now(UTC))
    args = ["audit", "verify", "--audit-table", AUDIT_TABLE, "--region", "eu-west-2"]
    assert main([*args, "--day", day]) == 0
    assert "intact" in capsys.readouterr().out
    api.dynamodb.update_item(
        TableName=AUDIT_TABLE,
        Key=to_item({"chain_day": day, "seq": 1}),
        UpdateExpression="SET #u = :u",
        ExpressionAttributeNames={"#u": "user"},
        ExpressionAttributeValues=to_item({":u": "someone-else"}),
    )
    assert main([*args, "--from", day, "--to", day]) == 1
    assert f"BROKEN at {day} seq 1: hash-mismatch" in capsys.readouterr().out
    assert main([*args, "--day", day, "--from", day]) == 2
