"""A retro-hunt in `nas local` (issue 10, item 5): reads posted before their VRM was listed are in
the Parquet layout once the sink has flushed; a manager then adds the VRM with retro_hunt_days=1,
the API answers at once with the hunt queued, and within seconds the local retro-hunt poller has run
the same handler as AWS would: the hunt shows what it found and the operator sees `retro` alerts."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.local.conftest import Local, wait_for
from tests.local.test_search_local import found, put_reads


def list_with_a_hunt(local: Local, manager: str, vrm: str) -> tuple[int, Any, Any]:
    """A Kent manager lists `vrm` for Kent with a retro-hunt of the last day."""
    return local.request(
        "POST",
        "/voi",
        token=manager,
        body=json.dumps(
            {
                "vrm": vrm,
                "category": "stolen",
                "action": "stop",
                "priority": 1,
                "reason": "Reported stolen, PNC 24/123456A",
                "circulation": ["KENT"],
                "retro_hunt_days": 1,
                "purpose": "crime",
                "case_ref": "KENT-2026-000777",
            }
        ).encode(),
    )


def hunt_of(local: Local, manager: str, voi_id: str) -> dict[str, Any] | None:
    """The entry's hunt once it has finished, else None."""
    _, _, entry = local.request("GET", f"/voi/{voi_id}", token=manager)
    hunt: dict[str, Any] = entry["retro_hunt"]
    return hunt if hunt["status"] in ("succeeded", "failed") else None


def test_a_new_entry_hunts_the_reads_of_the_last_day_and_raises_retro_alerts(local: Local) -> None:
    tag = uuid.uuid4().hex[:5].upper()
    vrm = f"RH{tag}"
    now = datetime.now(UTC).replace(microsecond=0)
    put_reads(
        local,
        [
            (f"rh-{tag}-1", vrm, now - timedelta(hours=3), "KENT-A2-001"),
            (f"rh-{tag}-2", vrm, now - timedelta(hours=1), "KENT-M20-J9"),
            (f"rh-{tag}-3", vrm, now - timedelta(minutes=30), "ESSEX-A12-004"),  # not circulated to ESSEX
        ],
    )
    # Stored and searchable: the sink has flushed the rows the hunt will read.
    found(
        local,
        local.id_token("investigator"),
        {"type": "vrm", "vrm": vrm},
        {f"rh-{tag}-1", f"rh-{tag}-2", f"rh-{tag}-3"},
    )
    manager = local.id_token("voi-manager")
    status, _, created = list_with_a_hunt(local, manager, vrm)
    assert status == 201, created
    assert created["retro_hunt"]["status"] == "queued"

    hunt = wait_for(lambda: hunt_of(local, manager, created["voi_id"]), timeout_s=60)
    assert (hunt["status"], hunt["reads_found"], hunt["alerts_raised"]) == ("succeeded", 3, 2)
    _, _, page = local.request("GET", "/alerts?limit=100", token=local.id_token("operator"))
    mine = {a["read_id"]: a for a in page["alerts"] if a["vrm"] == vrm}
    assert set(mine) == {f"rh-{tag}-1", f"rh-{tag}-2"}
    assert all(a["retro"] and a["voi_id"] == created["voi_id"] for a in mine.values())


def test_reads_that_arrived_just_before_the_entry_alert_once_each_live_or_hunted(local: Local) -> None:
    """Reads posted a moment before their VRM is listed met the lists without it, and may not yet be
    in the reads bucket when the hunt is asked for: the hunt waits for the sink (the queue's delay),
    so each read alerts once, live if it met the entry, retro otherwise, never not at all."""
    tag = uuid.uuid4().hex[:5].upper()
    vrm = f"RJ{tag}"
    now = datetime.now(UTC).replace(microsecond=0)
    reads = {f"rj-{tag}-1": "KENT-A2-001", f"rj-{tag}-2": "KENT-M20-J9"}
    put_reads(
        local,
        [
            (read, vrm, now - timedelta(minutes=n + 1), camera)
            for n, (read, camera) in enumerate(reads.items())
        ],
    )
    manager = local.id_token("voi-manager")
    status, _, created = list_with_a_hunt(local, manager, vrm)  # no wait for the reads to be stored
    assert status == 201, created

    hunt = wait_for(lambda: hunt_of(local, manager, created["voi_id"]), timeout_s=60)
    assert (hunt["status"], hunt["reads_found"]) == ("succeeded", 2)
    _, _, page = local.request("GET", "/alerts?limit=100", token=local.id_token("operator"))
    alerted = [a["read_id"] for a in page["alerts"] if a["vrm"] == vrm]
    assert sorted(alerted) == sorted(reads)
