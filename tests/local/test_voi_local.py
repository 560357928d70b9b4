"""VOI management on `nas local` end to end (issue 10, "done when"): a NATIONAL voi-manager imports a
1,000-row DVLA list with 10 bad rows with `nas voi import` (the 10 reported with reasons); a read of
a listed VRM raises an alert within seconds; a second import without that VRM stops its reads
from alerting; the white list suppresses a listed VRM. Then single entries with `nas voi`, and the
sweep that stands in for TTL locally."""

from __future__ import annotations

import io
import json
import time
import uuid
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nas.adapters.dynamo import from_item
from nas.adapters.voi_keys import STATE_TTL_S
from nas.cli.main import main as nas
from tests.local.conftest import Local, wait_for
from tests.voi_support import Row, list_file

KENT_CAMERA = "KENT-A2-001"


def manager(local: Local) -> dict[str, str]:
    [user] = [u for u in local.config["demo"]["other_users"] if u["username"] == "voi-manager-national"]
    return user


def login(local: Local, tmp_path: Path, user: dict[str, str]) -> Path:
    token = tmp_path / "token"
    arguments = ["login", "--config", str(local.config_path), "--username", user["username"]]
    arguments += ["--password", user["password"], "--token-file", str(token)]
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        status = nas(arguments)
    assert status == 0
    return token


def run(local: Local, token: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = nas([*args, "--config", str(local.config_path), "--token-file", str(token)])
    return status, out.getvalue(), err.getvalue()


def put_read(local: Local, vrm: str) -> str:
    read_id = f"voi-{uuid.uuid4().hex[:12]}"
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
    return read_id


def alerts_of(local: Local, read_id: str) -> list[dict[str, Any]]:
    items = local.client("dynamodb").scan(TableName=local.config["tables"]["alerts"])["Items"]
    return [a for a in (from_item(i) for i in items) if a["read_id"] == read_id]


def alerted(local: Local, vrm: str) -> bool:
    """Whether a read of `vrm` put now raises an alert; a read of a VRM sure to alert (a PNC entry
    of the demo) goes in the same batch, so silence is only concluded once it has been matched."""
    read_id, control = put_read(local, vrm), put_read(local, "KN19ABC")
    wait_for(lambda: alerts_of(local, control), timeout_s=30)
    return bool(alerts_of(local, read_id))


def dvla_list(vrms: list[str], bad: int = 0) -> bytes:
    lines: list[Row | str] = [Row(v) for v in vrms]
    for index in range(bad):
        lines.insert(100 * index + 50, f"BAD ROW {index}!,no-tax,report,3,Untaxed,,NATIONAL,false")
    return list_file(lines)


def test_a_managers_list_import_raises_alerts_is_replaced_and_the_white_list_suppresses(
    local: Local, tmp_path: Path
) -> None:
    token = login(local, tmp_path, manager(local))
    vrms = [f"DL{i:04d}X" for i in range(1_000)]
    first = tmp_path / "dvla.csv"
    first.write_bytes(dvla_list(vrms, bad=10))

    status, out, err = run(local, token, "voi", "import", str(first), "--source", "dvla")
    assert status == 0, out + err
    assert "status=succeeded rows=1010 accepted=1000 rejected=10" in out
    rejected = [line for line in out.splitlines() if line.startswith("rejected line ")]
    assert len(rejected) == 10
    assert rejected[0] == (
        "rejected line 52: vrm: VRM must be 1-10 letters or digits once spaces and hyphens are removed"
    )
    assert "upload [" in err
    assert "load   [" in err

    local_state_refresh()
    read_id = put_read(local, "DL0042X")
    [alert] = wait_for(lambda: alerts_of(local, read_id), timeout_s=30)
    assert (alert["voi_id"], alert["source"]) == ("dvla:DL0042X", "dvla")

    second = tmp_path / "dvla-2.csv"
    second.write_bytes(dvla_list([v for v in vrms if v != "DL0042X"]))
    status, out, _ = run(local, token, "voi", "import", str(second), "--source", "dvla")
    assert status == 0
    assert "removed=1" in out
    local_state_refresh()
    assert not alerted(local, "DL0042X")
    assert alerted(local, "DL0043X")

    white = tmp_path / "white.csv"
    white.write_bytes(list_file(["DL0043X"], header="vrm"))
    status, out, _ = run(local, token, "voi", "import", str(white), "--source", "whitelist")
    assert status == 0, out
    local_state_refresh()
    assert not alerted(local, "DL0043X")  # R-WHITE: a DVLA hit of a white-listed VRM
    assert alerted(local, "DL0044X")


def local_state_refresh() -> None:
    """Match environments pick up a flip within STATE_TTL_S (a read in between is matched against
    the list that was in force when it arrived)."""
    time.sleep(STATE_TTL_S + 0.5)


def test_a_failed_import_exits_1_and_names_the_failure(local: Local, tmp_path: Path) -> None:
    token = login(local, tmp_path, manager(local))
    bad = tmp_path / "wrong.csv"
    bad.write_text("registration,reason\nAB12CDE,stolen\n")
    status, out, _ = run(local, token, "voi", "import", str(bad), "--source", "mib")
    assert status == 1
    assert "status=failed" in out
    assert "failed: wrong-header" in out


def test_a_force_manager_may_not_replace_a_national_list(local: Local, tmp_path: Path) -> None:
    kent = local.config["demo"]["users"]["voi-manager"]
    token = login(local, tmp_path, kent)
    listed = tmp_path / "dvla.csv"
    listed.write_bytes(dvla_list(["AB12CDE"]))
    status, _, err = run(local, token, "voi", "import", str(listed), "--source", "dvla")
    assert status == 1
    assert "403 import-needs-national" in err


def test_single_entries_through_the_command_line(local: Local, tmp_path: Path) -> None:
    token = login(local, tmp_path, local.config["demo"]["users"]["voi-manager"])
    status, out, err = run(
        local,
        token,
        "voi",
        "add",
        "--vrm",
        "CL11AAA",
        "--category",
        "stolen",
        "--action",
        "stop",
        "--priority",
        "1",
        "--reason",
        "Stolen overnight, PNC 24/000001A",
        "--circulation",
        "KENT,ESSEX",
    )
    assert status == 0, err
    voi_id = json.loads(out)["voi_id"]
    status, out, _ = run(
        local,
        token,
        "voi",
        "revise",
        voi_id,
        "--priority",
        "2",
        "--retro-hunt-days",
        "1",
        "--purpose",
        "crime",
        "--case-ref",
        "KENT-2026-000001",
    )
    assert status == 0
    assert json.loads(out)["priority"] == 2
    assert json.loads(out)["retro_hunt"]["days"] == 1
    status, out, _ = run(local, token, "voi", "get", voi_id)
    assert [r["changes"] for r in json.loads(out)["revisions"]] == [{"priority": {"before": 1, "after": 2}}]
    status, out, _ = run(local, token, "voi", "list", "--vrm", "cl11 aaa")
    assert [e["voi_id"] for e in json.loads(out)["entries"]] == [voi_id]
    assert run(local, token, "voi", "delete", voi_id)[0] == 0
    status, _, err = run(local, token, "voi", "get", voi_id)
    assert status == 1
    assert "404" in err


def test_the_local_sweep_stands_in_for_ttl(local: Local) -> None:
    # The demo's expired entry (revised 60 days ago) is stored, as TTL would leave it for a while.
    table = local.config["tables"]["voi"]
    job = local.mode.schedules.jobs["voi-sweep"]
    job.once()
    items = [from_item(i) for i in local.client("dynamodb").scan(TableName=table)["Items"]]
    assert not [i for i in items if i["vrm"] == "GF15OLD"]  # entry and match item both gone
    assert job.failures == 0
