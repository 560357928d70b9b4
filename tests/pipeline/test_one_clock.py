"""R-LATE judged at the record's arrival in the stream, so match and archive agree on every read
whenever each of them runs (match within a second, archive 30 s or days later)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from nas.adapters.alerts import InMemoryAlertStore
from nas.adapters.cameras import InMemoryCameraRegistry
from nas.adapters.events import InMemoryAlertPublisher
from nas.adapters.firehose import InMemoryRowSink
from nas.adapters.objects import InMemoryObjectStore
from nas.adapters.voi_match import InMemoryVoiStore
from nas.pipeline.archive import ArchiveService
from nas.pipeline.match import MatchService
from nas.pipeline.records import StreamRecord
from tests.pipeline.conftest import CAMERAS, read_payload, voi_entry

ARRIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KENT = CAMERAS[0]


def record(captured_at: datetime, read_id: str = "r-1") -> StreamRecord:
    key, data = read_payload(KENT, read_id=read_id, vrm="AB12CDE", captured_at=captured_at)
    return StreamRecord("1", key, "shardId-000000000000", data, ARRIVED)


def consumers() -> tuple[
    MatchService, ArchiveService, InMemoryAlertStore, InMemoryRowSink, InMemoryObjectStore
]:
    cameras = InMemoryCameraRegistry(CAMERAS)
    voi = InMemoryVoiStore()
    voi.put(voi_entry("AB12CDE", revised=ARRIVED - timedelta(days=1)))
    alerts, rows, objects = InMemoryAlertStore(), InMemoryRowSink(), InMemoryObjectStore()
    match = MatchService(cameras=cameras, voi=voi, alerts=alerts, publisher=InMemoryAlertPublisher())
    archive = ArchiveService(
        cameras=cameras, objects=objects, rows=rows, reads_bucket="reads", quarantine_bucket="quarantine"
    )
    return match, archive, alerts, rows, objects


def test_a_read_live_at_arrival_alerts_and_is_stored_live_though_archive_runs_days_later() -> None:
    match, archive, alerts, rows, _ = consumers()
    read = record(ARRIVED - timedelta(hours=23, minutes=59, seconds=50))

    matched = match.process([read], now=ARRIVED + timedelta(seconds=30))  # 24 h old by match's clock
    archived = archive.process([read], now=ARRIVED + timedelta(days=2))

    assert [a.late for a in matched.alerts_raised] == [False]
    assert len(alerts.items) == 1
    assert archived.archived == 1
    assert [orjson.loads(row)["late"] for row in rows.rows] == [False]


def test_a_read_late_at_arrival_is_late_for_both_whenever_they_run() -> None:
    match, archive, alerts, rows, _ = consumers()
    read = record(ARRIVED - timedelta(hours=24, seconds=1))

    matched = match.process([read], now=ARRIVED)
    archive.process([read], now=ARRIVED)

    assert (matched.late, matched.alerts_raised, alerts.items) == (1, [], {})
    assert [orjson.loads(row)["late"] for row in rows.rows] == [True]


@pytest.mark.parametrize("archive_after", [timedelta(seconds=30), timedelta(days=3)])
def test_a_clock_fault_at_arrival_is_refused_by_both_though_match_runs_minutes_later(
    archive_after: timedelta,
) -> None:
    match, archive, alerts, rows, objects = consumers()
    # 6 minutes ahead of its arrival: a camera clock fault (R-LATE), though only 4 minutes ahead of
    # the moment match happens to process it.
    read = record(ARRIVED + timedelta(minutes=6))

    matched = match.process([read], now=ARRIVED + timedelta(minutes=2))
    archived = archive.process([read], now=ARRIVED + archive_after)

    assert dict(matched.skipped_invalid) == {"clock-fault": 1}
    assert dict(archived.quarantined) == {"clock-fault": 1}
    assert alerts.items == {}
    assert rows.rows == []
    [(_, key)] = objects.objects
    document = json.loads(objects.objects[("quarantine", key)])
    assert [r["reason"] for r in document["records"]] == ["clock-fault"]


def test_objects_of_a_retried_batch_keep_their_keys_across_midnight() -> None:
    _, archive, _, _, objects = consumers()
    read = record(ARRIVED - timedelta(minutes=1))
    bad = StreamRecord("2", "x", "shardId-000000000000", b"not json", ARRIVED)

    archive.process([read, bad], now=ARRIVED.replace(hour=23, minute=59, second=59))
    first = set(objects.objects)
    archive.process([read, bad], now=ARRIVED + timedelta(days=1))  # the retry runs the next day

    assert set(objects.objects) == first
    assert {key.split("/")[1] for _, key in first} == {"2026-03-01"}
