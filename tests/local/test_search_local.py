"""Searches on `nas local`, as an investigator would run them: reads posted through Kinesis are found
seconds later (after the Parquet sink's flush) by VRM, by an OCR look-alike, by pattern, by location
and in a convoy, through the gateway, the api handler and DuckDB over the moto reads bucket; a 100-day
priority-volume search is refused, and runs at serious-complex with an authoriser's authorisation."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from nas.cli.main import main as nas
from tests.local.conftest import Local, wait_for

CASE = "KENT-2026-004321"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def camera(local: Local, camera_id: str) -> dict[str, Any]:
    return next(c for c in local.config["demo"]["cameras"] if c["camera_id"] == camera_id)


def put_reads(local: Local, reads: list[tuple[str, str, datetime, str]]) -> None:
    records = []
    for read_id, vrm, captured_at, camera_id in reads:
        cam = camera(local, camera_id)
        record = {
            "schema": "nas.read.v1",
            "read_id": read_id,
            "vrm": vrm,
            "captured_at": rfc3339(captured_at),
            "camera_id": camera_id,
            "lea": cam["lea"],
            "source": cam["source"],
            "direction": "N",
            "confidence": 91,
        }
        records.append({"Data": json.dumps(record).encode(), "PartitionKey": camera_id})
    local.client("kinesis").put_records(StreamName=local.config["stream"], Records=records)


def search_body(search: dict[str, Any], **why: Any) -> bytes:
    now = datetime.now(UTC)
    return json.dumps(
        {
            "from": rfc3339(now - timedelta(hours=23)),
            "to": rfc3339(now + timedelta(minutes=1)),
            "investigation_level": "priority-volume",
            "purpose": "crime",
            "reason": "Burglary enquiry, suspect vehicle seen leaving",
            "case_ref": CASE,
            **why,
            **search,
        }
    ).encode()


def run_search(local: Local, token: str, search: dict[str, Any], **why: Any) -> dict[str, Any]:
    status, _, started = local.request("POST", "/searches", token=token, body=search_body(search, **why))
    assert status == 202, started
    status, _, page = local.request("GET", f"/searches/{started['search_id']}", token=token)
    assert status == 200, page
    assert page["status"] == "succeeded", page
    return dict(page)


def found(
    local: Local, token: str, search: dict[str, Any], expected: set[str], **why: Any
) -> list[dict[str, Any]]:
    """Searches until the rows hold exactly `expected` (read ids, or VRMs for a convoy)."""

    def probe() -> list[dict[str, Any]] | None:
        rows = run_search(local, token, search, **why)["rows"]
        keys = {row.get("read_id") or row["vrm"] for row in rows}
        return rows if keys == expected else None

    return wait_for(probe, timeout_s=30, interval_s=0.5)


def test_an_investigator_finds_a_read_posted_seconds_earlier_by_every_search_type(local: Local) -> None:
    token = local.id_token("investigator")
    tag = uuid.uuid4().hex[:5].upper()
    target, lookalike, companion = f"Q8{tag}", f"0B{tag}", f"CV{tag}"
    now = datetime.now(UTC).replace(microsecond=0)
    first, second = now - timedelta(hours=2), now - timedelta(hours=1)
    put_reads(
        local,
        [
            (f"s-{tag}-1", target, first, "KENT-A2-001"),
            (f"s-{tag}-2", target, second, "KENT-M20-J9"),
            (f"s-{tag}-3", lookalike, now - timedelta(minutes=30), "ESSEX-A12-004"),
            (f"s-{tag}-c1", companion, first + timedelta(seconds=40), "KENT-A2-001"),
            (f"s-{tag}-c2", companion, second - timedelta(seconds=20), "KENT-M20-J9"),
        ],
    )
    exact = found(local, token, {"type": "vrm", "vrm": target}, {f"s-{tag}-2", f"s-{tag}-1"})
    assert [r["read_id"] for r in exact] == [f"s-{tag}-2", f"s-{tag}-1"]  # newest first
    assert exact[0]["camera_id"] == "KENT-M20-J9"
    assert exact[0]["read_ref"].startswith("r1.")

    found(
        local,
        token,
        {"type": "vrm", "vrm": lookalike, "ocr_tolerant": True},
        {f"s-{tag}-1", f"s-{tag}-2", f"s-{tag}-3"},
    )
    found(local, token, {"type": "partial", "pattern": f"?8{tag[:2]}*"}, {f"s-{tag}-1", f"s-{tag}-2"})
    # KENT-A2-001 is registered at 51.2798, 1.0789: about 25 m from this point, the only camera within 300 m.
    near = {"type": "location", "near": {"lat": 51.2800, "lon": 1.0790, "radius_m": 300}}
    named = run_search(local, token, {"type": "location", "camera_ids": ["KENT-A2-001"]})["rows"]
    at_camera = run_search(local, token, near)["rows"]
    assert at_camera == named
    assert {f"s-{tag}-1", f"s-{tag}-c1"} <= {r["read_id"] for r in at_camera}
    assert f"s-{tag}-2" not in {r["read_id"] for r in at_camera}
    convoy = found(
        local,
        token,
        {"type": "convoy", "vrm": target, "within_s": 60, "min_sightings": 2},
        {companion},
    )
    assert convoy[0]["count"] == 2
    assert [r["read_id"] for r in convoy[0]["reads"]] == [f"s-{tag}-c1", f"s-{tag}-c2"]


def test_a_100_day_search_needs_serious_complex_and_an_authorisation(local: Local) -> None:
    investigator = local.id_token("investigator")
    authoriser = local.id_token("authoriser")
    username = local.config["demo"]["users"]["investigator"]["username"]
    hundred_days = {"from": rfc3339(datetime.now(UTC) - timedelta(days=100))}
    search = {"type": "vrm", "vrm": "AB12CDE"}
    status, _, refused = local.request(
        "POST", "/searches", token=investigator, body=search_body(search, **hundred_days)
    )
    assert (status, refused["error"]["code"]) == (403, "lookback-exceeds-level")

    grant = {
        "grantee": username,
        "case_ref": CASE,
        "investigation_level": "serious-complex",
        "max_lookback_days": 120,
        "expires_at": rfc3339(datetime.now(UTC) + timedelta(days=7)),
        "reason": "Series of burglaries since the summer",
    }
    status, _, authorisation = local.request(
        "POST", "/authorisations", token=authoriser, body=json.dumps(grant).encode()
    )
    assert status == 201, authorisation
    page = run_search(
        local,
        investigator,
        search,
        **hundred_days,
        investigation_level="serious-complex",
        authorisation_id=authorisation["authorisation_id"],
    )
    assert page["status"] == "succeeded"
    status, _, mine = local.request("GET", "/authorisations?mine=true", token=investigator)
    assert authorisation["authorisation_id"] in {a["authorisation_id"] for a in mine["authorisations"]}


def test_nas_search_prints_what_the_api_found(
    local: Local, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = uuid.uuid4().hex[:5].upper()
    vrm = f"CL{tag}"
    put_reads(local, [(f"cli-{tag}", vrm, datetime.now(UTC) - timedelta(minutes=3), "ESSEX-A12-004")])
    found(local, local.id_token("investigator"), {"type": "vrm", "vrm": vrm}, {f"cli-{tag}"})
    token_file = tmp_path / "token"
    token_file.write_text(local.id_token("investigator"))
    argv = ["search", "vrm", vrm, "--from", "1d", "--purpose", "crime", "--case-ref", CASE]
    argv += ["--reason", "Vehicle seen at the scene", "--config", str(local.config_path)]
    assert nas([*argv, "--token-file", str(token_file), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(r["read_id"], r["camera_id"]) for r in document["rows"]] == [(f"cli-{tag}", "ESSEX-A12-004")]
    assert nas([*argv, "--token-file", str(token_file), "--from", "100d"]) == 1
    assert "403 lookback-exceeds-level" in capsys.readouterr().err
