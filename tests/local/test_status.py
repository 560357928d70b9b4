"""`make local` a person can watch: one status line of counts from the consumers, and log lines that
name the function and service that wrote them."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from nas.local.logs import LocalLogs, log_as
from nas.local.poller import Consumer
from nas.local.status import LiveStatus, PipelineTally, StatusLine
from nas.observability import logger
from nas.pipeline.archive import ArchiveResult
from nas.pipeline.match import MatchResult


def test_the_status_line_counts_reads_alerts_quarantine_by_reason_lag_and_rows() -> None:
    tally = PipelineTally()
    match, archive = Consumer("match", lambda e, c: None), Consumer("archive", lambda e, c: None)
    clock = [100.0]
    line = StatusLine(tally, {"match": match, "archive": archive}, lambda: 1234, monotonic=lambda: clock[0])
    assert line.text().startswith("reads 0/s")

    match.stats.add(processed=500)
    match.stats.behind("shardId-000000000001", 2500)
    tally.matched(MatchResult(alerts_raised=[object()] * 3))  # type: ignore[list-item]
    tally.archived(ArchiveResult(quarantined=Counter({"unknown-camera": 4, "not-json": 1})))
    tally.archived(ArchiveResult(quarantined=Counter({"not-json": 1})))
    archive.stats.add(set_aside=2)
    clock[0] = 102.0
    assert line.text() == (
        "reads 250/s · alerts 3 · quarantined 6 (unknown-camera 4, not-json 2) · lag 2.5 s"
        " · rows stored 1,234 · set aside 2 (nas replay failures)"
    )


def test_the_live_line_redraws_one_line_in_place() -> None:
    tally = PipelineTally()
    out = io.StringIO()
    status = LiveStatus(StatusLine(tally, {}, lambda: 0), out)
    status.start()
    status.stop()
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert lines
    assert all("rows stored 0" in line for line in lines)


def test_log_lines_name_the_function_and_service_of_their_thread(tmp_path: Path) -> None:
    path = tmp_path / ".nas-local.log"
    logs = LocalLogs(path)
    logs.open()
    try:

        def work(function: str, service: str) -> None:
            log_as(function_name=function, service=service)
            logger.warning("batch done")

        threads = [
            threading.Thread(target=work, args=(f"nas-local-{n}", f"nas-{n}"))
            for n in ("match", "archive", "api")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        logging.getLogger("nas.local.poller").warning("a poller line")
    finally:
        logs.close()
    lines: list[dict[str, Any]] = [json.loads(line) for line in path.read_text().splitlines()]
    pairs = {
        (line.get("function_name"), line["service"]) for line in lines if line["message"] == "batch done"
    }
    assert pairs == {
        ("nas-local-match", "nas-match"),
        ("nas-local-archive", "nas-archive"),
        ("nas-local-api", "nas-api"),
    }
    [poller] = [line for line in lines if line["message"] == "a poller line"]
    assert poller["service"] == "nas-local"
    assert "service_undefined" not in path.read_text()
