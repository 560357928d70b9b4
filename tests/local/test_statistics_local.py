"""R-STATS on `nas local`: reads posted through Kinesis and a search are counted by the statistics
job (`nas jobs run statistics`, today so far); an analyst fetches today's report through the gateway
and it holds the counts but no VRM, camera id or user name; an auditor sees the search in the usage
report, by user."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from nas.cli.main import main as nas
from tests.local.conftest import Local, wait_for
from tests.local.test_search_local import put_reads, run_search


def test_an_analyst_fetches_todays_report_and_it_holds_no_vrm(
    local: Local, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:6].upper()
    vrms = [f"ST{n:02d}{tag[:3]}" for n in range(10, 16)]
    at = max(now - timedelta(minutes=2), now.replace(hour=0, minute=0, second=1))
    put_reads(local, [(f"stats-{tag}-{n}", vrm, at, "KENT-A2-001") for n, vrm in enumerate(vrms)])
    investigator = local.id_token("investigator")
    wait_for(lambda: run_search(local, investigator, {"type": "vrm", "vrm": vrms[0]})["rows"], timeout_s=60)

    assert nas(["jobs", "run", "statistics", "--config", str(local.config_path)]) == 0
    run = json.loads(capsys.readouterr().out)
    assert (run["day"], run["complete"]) == (now.date().isoformat(), False)

    status, _, report = local.request("GET", "/reports/daily", token=local.id_token("analyst"))
    assert status == 200, report
    kent = sum(
        c["count"] if isinstance(c["count"], int) else 0
        for c in report["reads_by_lea_hour"]
        if c["lea"] == "KENT"
    )
    assert kent >= len(vrms)
    assert any(c["lea"] == "KENT" and c["type"] == "vrm" for c in report["searches"])
    text = json.dumps(report)
    users = [u["username"] for u in local.config["demo"]["users"].values()]
    leaked = [v for v in [*vrms, "KENT-A2-001", *users] if v in text]
    assert not leaked, f"today's report holds {leaked}"

    status, _, usage = local.request(
        "GET", f"/reports/usage?from={now.date().isoformat()}", token=local.id_token("auditor")
    )
    assert status == 200, usage
    searcher = local.config["demo"]["users"]["investigator"]["username"]
    assert any(u["user"] == searcher and u["searches"] >= 1 for u in usage["users"])
