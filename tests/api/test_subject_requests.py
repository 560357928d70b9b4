"""Data-subject requests through the api Lambda (R-SAR): recorded with their due date, listed (overdue
first), decided once; access exports with time and a coarse area only (R-CAMERA) and corrections
applied (R-CORRECT); restriction in and out; rectification; erasure that leaves no row of the VRM and
every other row intact, and preserved copies alone."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from typing import Any

import boto3
import pyarrow.dataset as ds
import pytest

from nas import catalogue
from nas.domain.subject_requests import due_date
from tests.api.conftest import EVIDENCE_BUCKET, READS_BUCKET, REGION, claims
from tests.api.readsdata import CASE, DORA, GROUPS, NOW, OLLY, ReadsApi, ago, ids, rfc3339
from tests.searchdata import CAMERAS, ESSEX_A, KENT_B, StoredRead

GRANT = {"decision": "granted", "reason": "Identity and keepership verified"}


def new_request(reads_api: ReadsApi, kind: str, vrm: str = "AB12CDE", **fields: Any) -> Any:
    body = {
        "kind": kind,
        "vrm": vrm,
        "received_at": rfc3339(ago(days=2)),
        "requester_ref": "SAR-2026-0042",
        "notes": "Letter with V5C copy",
    } | fields
    reply = reads_api.api.call("POST", "/subject-requests", DORA, body=body)
    assert reply.status == 201, reply.body
    return reply.body


def decide(reads_api: ReadsApi, request_id: str, **body: Any) -> Any:
    return reads_api.api.call("POST", f"/subject-requests/{request_id}/decision", DORA, body=GRANT | body)


def export(reads_api: ReadsApi, request_id: str, fmt: str = "json") -> Any:
    return reads_api.api.call("GET", f"/subject-requests/{request_id}/export", DORA, query={"format": fmt})


def stored_vrms(reads_api: ReadsApi) -> list[tuple[str, str]]:
    table = ds.dataset(str(reads_api.root / catalogue.READS_PREFIX), format="parquet", partitioning="hive")
    rows = table.to_table(columns=["read_id", "vrm"]).to_pylist()
    return sorted((r["read_id"], r["vrm"]) for r in rows)


def test_a_request_is_due_a_calendar_month_after_receipt_and_listed_soonest_due(reads_api: ReadsApi) -> None:
    late = new_request(reads_api, "access", received_at=rfc3339(ago(days=40)))
    fresh = new_request(reads_api, "erasure", received_at=rfc3339(ago(days=1)))
    assert late["due_date"] == due_date(ago(days=40)).isoformat()  # the rule: tests/unit
    assert (late["overdue"], fresh["overdue"]) == (True, False)
    listed = reads_api.api.call("GET", "/subject-requests", DORA).body["requests"]
    assert [r["request_id"] for r in listed] == [late["request_id"], fresh["request_id"]]
    overdue = reads_api.api.call("GET", "/subject-requests", DORA, query={"overdue": "true"}).body["requests"]
    assert [r["request_id"] for r in overdue] == [late["request_id"]]
    got = reads_api.api.call("GET", f"/subject-requests/{fresh['request_id']}", DORA)
    assert (got.status, got.body["kind"], got.body["status"]) == (200, "erasure", "open")


def test_a_request_received_in_the_future_or_with_a_bad_vrm_is_400(reads_api: ReadsApi) -> None:
    future = {"kind": "access", "vrm": "AB12CDE", "received_at": rfc3339(NOW + timedelta(days=2))}
    reply = reads_api.api.call("POST", "/subject-requests", DORA, body=future | {"requester_ref": "SAR-1"})
    assert reply.status == 400
    assert "received_at" in reply.body["error"]["message"]
    bad = future | {"received_at": rfc3339(ago(days=1)), "requester_ref": "SAR-1", "vrm": "AB!!"}
    assert reads_api.api.call("POST", "/subject-requests", DORA, body=bad).status == 400


def test_a_decision_is_made_once_and_a_refusal_cites_its_exemption(reads_api: ReadsApi) -> None:
    made = new_request(reads_api, "access")
    refused = decide(reads_api, made["request_id"], decision="refused")
    assert refused.status == 400
    assert "exemption" in refused.body["error"]["message"]
    done = decide(reads_api, made["request_id"], decision="refused", exemption="DPA 2018 s.45(4)(b)")
    assert (done.status, done.body["decision"], done.body["exemption"]) == (
        200,
        "refused",
        "DPA 2018 s.45(4)(b)",
    )
    assert decide(reads_api, made["request_id"]).status == 409


def test_an_access_export_lists_reads_and_alerts_by_time_lea_and_grid_square_only(
    reads_api: ReadsApi,
) -> None:
    reads_api.store(
        StoredRead("k1", "AB12CDE", ago(days=3)),
        StoredRead("k2", "AB12CDE", ago(hours=5), KENT_B),
        StoredRead("e1", "AB12CDE", ago(hours=2), ESSEX_A),
        StoredRead("other", "ZZ99ZZZ", ago(hours=2)),
    )
    reads_api.api.put_alert(read_id="k2", camera_id=KENT_B.camera_id, raised_at=ago(hours=5))
    made = new_request(reads_api, "access")
    as_json = export(reads_api, made["request_id"])
    assert as_json.status == 200, as_json.body
    document = as_json.body
    assert [(r["lea"], r["grid_square"]) for r in document["reads"]] == [
        ("ESSEX", "TL70"),
        ("KENT", "TR04"),
        ("KENT", "TR15"),
    ]
    assert {r["vrm"] for r in document["reads"]} == {"AB12CDE"}
    assert [(a["lea"], a["grid_square"], a["category"]) for a in document["alerts"]] == [
        ("KENT", "TR04", "stolen")
    ]
    record = reads_api.api.audit_for(as_json.request_id)
    assert (record["purpose"], record["case_ref"]) == ("data-subject-request", made["request_id"])
    assert record["parameters"]["uses"]["system_search"]["vrm"] == "AB12CDE"
    assert record["result_count"] == 4
    as_csv = export(reads_api, made["request_id"], "csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.body)))
    assert [r["record"] for r in rows] == ["read", "read", "read", "alert"]
    # R-CAMERA, checked over the text itself: no camera id, read id, site or coordinate anywhere.
    for text in (json.dumps(document), as_csv.body):
        for camera in CAMERAS:
            assert camera.camera_id not in text
            for degrees in (camera.lat, camera.lon):
                assert f"{degrees:.2f}" not in text
        for key in ("camera", "lat", "lon", "site", "read_id", "image"):
            assert key not in text.lower()
        assert not re.search(r"(?<![\d:])-?\d{1,2}\.\d{3,}", text), "no coordinate-like number"


def test_an_access_export_uses_the_corrected_vrm(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("r1", "AB12CDE", ago(hours=3)), StoredRead("r2", "AB12CDF", ago(hours=2)))
    search_id = reads_api.vrm_search("AB12CDE")["search_id"]
    assert reads_api.correct("r1", search_id, "AB12CDF").status == 201
    old = export(reads_api, new_request(reads_api, "access", "AB12CDE")["request_id"]).body
    assert old["reads"] == []
    new = export(reads_api, new_request(reads_api, "access", "AB12CDF")["request_id"]).body
    assert sorted((r["vrm"], r["corrected"]) for r in new["reads"]) == [("AB12CDF", False), ("AB12CDF", True)]


def test_a_restriction_hides_the_vrms_reads_from_searches_until_lifted(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("r1", "AB12CDE", ago(hours=3)), StoredRead("r2", "AB12CDE", ago(hours=2)))
    made = new_request(reads_api, "restriction")
    decided = decide(reads_api, made["request_id"])
    assert decided.status == 200
    assert decided.body["restriction_in_force"] is True
    assert decided.body["outcome"]["restricted_reads"] == 2  # shown to the DPO alone
    page = reads_api.vrm_search("AB12CDE")
    assert ids(page) == []
    assert "restricted" not in json.dumps(page)
    assert ids(reads_api.search({"type": "partial", "pattern": "AB12C*"})) == []
    lift = reads_api.api.call(
        "POST",
        f"/subject-requests/{made['request_id']}/lift-restriction",
        DORA,
        body={"reason": "Accuracy now verified; restriction ends"},
    )
    assert lift.status == 200
    assert lift.body["restriction_in_force"] is False
    assert lift.body["restriction_lifted_by"] == "dora"
    record = reads_api.api.audit_for(lift.request_id)
    assert record["route"] == "/subject-requests/{request_id}/lift-restriction"
    assert ids(reads_api.vrm_search("AB12CDE")) == ["r2", "r1"]


def test_a_granted_rectification_corrects_the_reads_the_dpo_names(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("r1", "AB12CDE", ago(hours=3)), StoredRead("r2", "AB12CDE", ago(hours=2)))
    made = new_request(reads_api, "rectification")
    # The DPO names reads by the entry ids of the request's own listing (they mean nothing elsewhere).
    listing = export(reads_api, made["request_id"]).body["reads"]
    newest = listing[0]["entry_id"]
    foreign = export(reads_api, new_request(reads_api, "access")["request_id"]).body["reads"][0]["entry_id"]
    assert foreign != newest
    refused = decide(reads_api, made["request_id"], corrections=[{"entry_id": foreign, "vrm": "AB12CDF"}])
    assert refused.status == 400
    decided = decide(reads_api, made["request_id"], corrections=[{"entry_id": newest, "vrm": "AB12CDF"}])
    assert decided.status == 200, decided.body
    assert [c["vrm"] for c in decided.body["outcome"]["corrections"]] == ["AB12CDF"]
    assert ids(reads_api.vrm_search("AB12CDE")) == ["r1"]
    found = reads_api.vrm_search("AB12CDF")
    assert (ids(found), found["rows"][0]["corrected"]) == (["r2"], True)
    view = reads_api.view("r2", found["search_id"]).body
    assert view["corrections"][0]["source"] == "subject-request"


def test_erasure_leaves_no_row_of_the_vrm_and_every_other_row_intact(reads_api: ReadsApi) -> None:
    posted = reads_api.store(
        StoredRead("gone1", "AB12CDE", ago(days=3)),
        StoredRead("gone2", "AB12CDE", ago(hours=5), KENT_B),
        StoredRead("kept1", "ZZ99ZZZ", ago(days=3)),
        StoredRead("kept2", "AB12CDF", ago(hours=5), KENT_B),
        StoredRead("moved", "AB12CDE", ago(hours=4)),  # misread: really AB12CDX
        StoredRead("late", "AB12CDE", ago(days=3), stored_after=timedelta(days=2)),
    )
    search_id = reads_api.vrm_search("AB12CDE", OLLY)["search_id"]
    assert reads_api.correct("moved", search_id, "AB12CDX", OLLY).status == 201
    preserved = reads_api.api.call(
        "POST",
        "/preservations",
        OLLY,
        body={
            "search_id": search_id,
            "read_ids": ["gone1"],
            "case_ref": CASE,
            "reason": "CPIA: trial evidence",
        },
    )
    assert preserved.status == 201
    before = stored_vrms(reads_api)
    made = new_request(reads_api, "erasure")
    decided = decide(reads_api, made["request_id"])
    assert decided.status == 200, decided.body
    outcome = decided.body["outcome"]
    assert outcome["erasure"]["rows_removed"] == 3
    assert outcome["preserved_copies_kept"] == [preserved.body["preservation_id"]]
    assert "CPIA" in outcome["note"]
    after = stored_vrms(reads_api)
    assert after == [row for row in before if row[0] not in ("gone1", "gone2", "late")]
    assert ("moved", "AB12CDE") in after  # another vehicle's read, corrected away from the VRM
    assert ids(reads_api.vrm_search("AB12CDE", OLLY)) == []
    # Images: the erased reads' bytes are gone from the pack; everyone else's are as posted.
    s3 = boto3.client("s3", region_name=REGION)
    packs = b"".join(
        s3.get_object(Bucket=READS_BUCKET, Key=o["Key"])["Body"].read()
        for o in s3.list_objects_v2(Bucket=READS_BUCKET)["Contents"]
    )
    for read_id, images in posted.items():
        for body in images.values():
            assert (body in packs) is (read_id not in ("gone1", "gone2", "late"))
    kept = reads_api.vrm_search("AB12CDF", OLLY)
    image = reads_api.image("kept2", "plate", kept["search_id"], OLLY)
    assert image.body == posted["kept2"]["plate"]
    # The preserved copy is left alone (CPIA).
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=EVIDENCE_BUCKET)["Contents"]]
    assert any(
        k.startswith(f"{catalogue.PRESERVATIONS_PREFIX}{preserved.body['preservation_id']}/") for k in keys
    )


def test_an_erasure_granted_in_part_keeps_the_reads_withheld_and_erases_the_rest(reads_api: ReadsApi) -> None:
    posted = reads_api.store(
        StoredRead("gone", "AB12CDE", ago(days=3)),
        StoredRead("evidence", "AB12CDE", ago(hours=5), KENT_B),
        StoredRead("other", "ZZ99ZZZ", ago(days=3)),
    )
    made = new_request(reads_api, "erasure")
    listing = export(reads_api, made["request_id"]).body["reads"]
    evidence = listing[0]["entry_id"]  # newest first: the read of 5 hours ago
    foreign = export(reads_api, new_request(reads_api, "access")["request_id"]).body["reads"][0]["entry_id"]
    part = {"decision": "partly", "exemption": "DPA 2018 s47(2): trial evidence"}
    unknown = decide(reads_api, made["request_id"], **part, withheld=[foreign])
    assert (unknown.status, unknown.body["error"]["fields"]) == (400, ["withheld"])

    decided = decide(reads_api, made["request_id"], **part, withheld=[evidence])
    assert decided.status == 200, decided.body
    outcome = decided.body["outcome"]
    assert (outcome["erasure"]["rows_removed"], outcome["reads_withheld"]) == (1, 1)
    assert stored_vrms(reads_api) == [("evidence", "AB12CDE"), ("other", "ZZ99ZZZ")]
    kept = reads_api.vrm_search("AB12CDE", OLLY)
    assert ids(kept) == ["evidence"]
    assert reads_api.image("evidence", "plate", kept["search_id"], OLLY).body == posted["evidence"]["plate"]
    assert "gone" not in json.dumps(decided.body)  # the view names no read withheld or erased


@pytest.mark.parametrize("group", GROUPS)
def test_subject_request_routes_are_for_the_dpo_only(reads_api: ReadsApi, group: str) -> None:
    who = claims("dora", group, "NATIONAL")
    body = {"kind": "access", "vrm": "AB12CDE", "received_at": rfc3339(ago(days=1)), "requester_ref": "SAR-7"}
    made = reads_api.api.call("POST", "/subject-requests", who, body=body)
    listed = reads_api.api.call("GET", "/subject-requests", who)
    if group == "dpo":
        assert (made.status, listed.status) == (201, 200)
        rid = made.body["request_id"]
    else:
        assert (made.status, listed.status) == (403, 403)
        rid = new_request(reads_api, "access")["request_id"]
    expected = 200 if group == "dpo" else 403
    assert reads_api.api.call("GET", f"/subject-requests/{rid}", who).status == expected
    assert export(reads_api, rid).status == 200
    assert reads_api.api.call("GET", f"/subject-requests/{rid}/export", who).status == expected
    if group != "dpo":
        path = f"/subject-requests/{rid}"
        assert reads_api.api.call("POST", f"{path}/decision", who, body=GRANT).status == 403
        lift = {"reason": "Restriction no longer needed"}
        assert reads_api.api.call("POST", f"{path}/lift-restriction", who, body=lift).status == 403
