"""The service end to end on `nas local`: reads put with boto3 become alerts an operator fetches
through the gateway and the API; other forces and roles are refused; every request is in the audit
trail, whose chains local mode's digest timer anchors, which `nas audit verify` checks, and which
fails naming the record once a stored record is altered or an anchored one deleted."""

from __future__ import annotations

import io
import json
import uuid
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from typing import Any

from nas.adapters.dynamo import from_item, to_item
from nas.cli.main import main as nas
from nas.domain.models import alert_id_for
from tests.local.conftest import Local, wait_for

KENT_CAMERA = "KENT-A2-001"
KENT_ONLY_VRM, KENT_ONLY_VOI = "KN19ABC", "demo-kent-stolen"  # circulated to and owned by KENT


def essex_operator_token(local: Local) -> str:
    [essex] = [u for u in local.config["demo"]["other_users"] if u["lea"] == "ESSEX"]
    return str(local.sign_in(essex["username"], essex["password"])["IdToken"])


def put_read(local: Local, read_id: str, vrm: str) -> None:
    record = {
        "schema": "nas.read.v1",
        "read_id": read_id,
        "vrm": vrm,
        "captured_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "camera_id": KENT_CAMERA,
        "lea": "KENT",
        "source": "static",
    }
    local.client("kinesis").put_records(
        StreamName=local.config["stream"],
        Records=[{"Data": json.dumps(record).encode(), "PartitionKey": KENT_CAMERA}],
    )


def audit_events(local: Local) -> list[dict[str, Any]]:
    items = local.client("dynamodb").scan(TableName=local.config["tables"]["audit"])["Items"]
    return [from_item(i) for i in items]


def test_operator_fetches_the_alert_a_read_raised_and_other_forces_see_nothing(local: Local) -> None:
    read_id = f"e2e-{uuid.uuid4().hex[:12]}"
    put_read(local, read_id, KENT_ONLY_VRM)
    alert_id = alert_id_for(KENT_CAMERA, read_id, KENT_ONLY_VOI)
    kent = local.id_token("operator")

    def alert_listed() -> dict[str, Any] | None:
        status, _, body = local.request("GET", "/alerts?limit=100", token=kent)
        assert status == 200
        return next((a for a in body["alerts"] if a["alert_id"] == alert_id), None)

    alert = wait_for(alert_listed, timeout_s=30)
    assert (alert["read_id"], alert["vrm"], alert["voi_id"], alert["lea"]) == (
        read_id,
        KENT_ONLY_VRM,
        KENT_ONLY_VOI,
        "KENT",
    )
    assert alert["outcome"] is None

    status, _, body = local.request("GET", "/alerts?limit=100", token=essex_operator_token(local))
    assert status == 200
    assert alert_id not in {a["alert_id"] for a in body["alerts"]}

    outcome = json.dumps({"outcome": "confirmed", "note": "stopped at J9"}).encode()
    status, _, body = local.request("POST", f"/alerts/{alert_id}/outcome", token=kent, body=outcome)
    assert status == 200, body
    status, _, _ = local.request(
        "POST", f"/alerts/{alert_id}/outcome", token=essex_operator_token(local), body=outcome
    )
    assert status == 404  # invisible to ESSEX: not even its existence


def test_wrong_group_is_403_naming_the_rule(local: Local) -> None:
    status, _, body = local.request("GET", "/alerts", token=local.id_token("investigator"))
    assert status == 403
    assert body["error"]["code"]


def test_every_request_is_audited_and_the_chain_verifies_until_a_record_is_altered(local: Local) -> None:
    # A `since` a few minutes back with random microseconds: a value no other test sends.
    micros = uuid.uuid4().int % 1_000_000
    marker = f"{(datetime.now(UTC) - timedelta(minutes=5)):%Y-%m-%dT%H:%M:%S}.{micros:06d}Z"
    operator, investigator = local.id_token("operator"), local.id_token("investigator")
    requests = [
        ("GET", f"/alerts?limit=5&since={marker}&probe=1", operator),  # 400: not a parameter of the route
        ("GET", f"/alerts?limit=5&since={marker}", operator),
        ("GET", f"/alerts?since={marker}", investigator),  # 403
    ]
    statuses = [local.request(method, path, token=token)[0] for method, path, token in requests]
    assert statuses[1] == 200
    assert statuses[2] == 403

    events = [e for e in audit_events(local) if marker in json.dumps(e.get("parameters", {}))]
    assert sorted(int(e["status"]) for e in events) == sorted(statuses)
    assert {e["user"] for e in events} == {
        local.config["demo"]["users"]["operator"]["username"],
        local.config["demo"]["users"]["investigator"]["username"],
    }
    assert all(e["source_ip"] == "127.0.0.1" and e["request_id"] for e in events)

    def verify() -> tuple[int, str]:
        out = io.StringIO()
        with redirect_stdout(out):
            code = nas(["audit", "verify", "--config", str(local.config_path)])
        return code, out.getvalue()

    def report_of(output: str) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(output[: output.rindex("}") + 1])
        return parsed

    def anchored(record: dict[str, Any]) -> bool:
        code, output = verify()
        assert code == 0, output
        report = report_of(output)
        chain = f"{record['chain_day']}/{record['chain']}"
        waiting = [u for u in report["unanchored"] if u["chain_id"] == chain]
        return report["digests"] > 0 and all(u["first_seq"] > record["seq"] for u in waiting)

    altered, deleted = events[1], events[2]
    wait_for(lambda: anchored(altered) and anchored(deleted), timeout_s=30)
    local.client("dynamodb").update_item(
        TableName=local.config["tables"]["audit"],
        Key=to_item({"chain_id": altered["chain_id"], "seq": altered["seq"]}),
        UpdateExpression="SET #status = :forged",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=to_item({":forged": 204}),
    )
    code, report = verify()
    assert code == 1
    assert f"BROKEN at {altered['chain_id']} seq {altered['seq']}: hash-mismatch" in report
    local.client("dynamodb").delete_item(
        TableName=local.config["tables"]["audit"],
        Key=to_item({"chain_id": deleted["chain_id"], "seq": deleted["seq"]}),
    )
    code, report = verify()
    assert code == 1
    breaks = {(b["chain_id"], b["seq"], b["reason"]) for b in report_of(report)["breaks"]}
    assert (deleted["chain_id"], deleted["seq"], "missing") in breaks
