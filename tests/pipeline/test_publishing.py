"""Alerts are published exactly once in effect (R-ALERT, R-DUP) when PutEvents fails, when the
published mark fails, and when the VOI entry is deleted between attempts: faults injected through
the wiring's client factory into real adapters on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nas import catalogue
from nas.adapters.dynamo import to_item
from nas.pipeline.records import StreamRecord
from nas.pipeline.sweeper import SWEEP_AFTER
from nas.pipeline.wiring import build_match_service, build_publish_sweeper
from nas.settings import settings
from tests.pipeline.conftest import CAMERAS, NAMES, PipelineAccount, read_payload, voi_entry
from tests.pipeline.faults import FaultyClients, put_events_rejected, throttled

KENT = CAMERAS[0]


def records(*read_ids: str, arrived_at: datetime) -> list[StreamRecord]:
    found = []
    for n, read_id in enumerate(read_ids, start=1):
        key, data = read_payload(
            KENT, read_id=read_id, vrm="AB12CDE", captured_at=arrived_at - timedelta(seconds=5)
        )
        found.append(StreamRecord(str(n), key, "shardId-000000000000", data, arrived_at))
    return found


def stored(account: PipelineAccount) -> dict[str, dict[str, Any]]:
    return {a["read_id"]: a for a in account.alerts()}


@pytest.fixture
def faults(account: PipelineAccount) -> FaultyClients:
    account.put_voi(voi_entry("AB12CDE", voi_id="voi-stolen"))
    return FaultyClients()


def test_put_events_failing_fails_the_record_and_the_retry_publishes_the_stored_alert_once(
    account: PipelineAccount, faults: FaultyClients
) -> None:
    now = datetime.now(UTC)
    batch = records("r-1", arrived_at=now)
    match = build_match_service(settings(), faults)
    faults.fail("put_events", 100, put_events_rejected)

    first = match.process(batch, now=now)
    assert first.failed_sequence_numbers == {"1"}
    assert stored(account)["r-1"]["published"] is False
    assert account.events() == []

    faults.heal()
    retry = match.process(batch, now=now + timedelta(seconds=40))
    assert retry.failed_sequence_numbers == set()
    [event] = account.events()
    # Published as stored by the first attempt, not rebuilt with the retry's time.
    assert event["detail"]["raised_at"] == stored(account)["r-1"]["raised_at"]
    assert datetime.fromisoformat(event["detail"]["raised_at"]) == now
    assert stored(account)["r-1"]["published"] is True
    assert "publish_pending" not in stored(account)["r-1"]


def test_a_failed_published_mark_does_not_fail_the_record_and_the_sweeper_publishes_it_once_more(
    account: PipelineAccount, faults: FaultyClients
) -> None:
    now = datetime.now(UTC)
    match = build_match_service(settings(), faults)
    sweeper = build_publish_sweeper(settings(), faults)
    faults.fail("update_item", 1, throttled("UpdateItem"))

    result = match.process(records("r-1", arrived_at=now), now=now)
    assert (result.failed_sequence_numbers, result.unmarked, len(result.alerts_raised)) == (set(), 1, 1)
    assert len(account.events()) == 1
    assert stored(account)["r-1"]["published"] is False

    assert sweeper.sweep(now=now + timedelta(seconds=30)).found == 0  # not a minute old yet
    swept = sweeper.sweep(now=now + SWEEP_AFTER + timedelta(seconds=1))
    assert (swept.found, len(swept.published), swept.unmarked) == (1, 1, set())
    [again] = account.events()  # a second copy, same alert: consumers de-duplicate on alert_id
    assert again["detail"]["alert_id"] == stored(account)["r-1"]["alert_id"]
    assert stored(account)["r-1"]["published"] is True
    assert sweeper.sweep(now=now + timedelta(minutes=5)).found == 0


def test_an_alert_whose_entry_is_deleted_before_the_retry_is_published_by_the_sweeper(
    account: PipelineAccount, faults: FaultyClients
) -> None:
    now = datetime.now(UTC)
    batch = records("r-1", arrived_at=now)
    match = build_match_service(settings(), faults)
    sweeper = build_publish_sweeper(settings(), faults)
    faults.fail("put_events", 100, put_events_rejected)
    assert match.process(batch, now=now).failed_sequence_numbers == {"1"}

    faults.heal()
    account.dynamodb.delete_item(
        TableName=NAMES[catalogue.VOI], Key=to_item({"vrm": "AB12CDE", "record": "MATCH"})
    )
    retry = match.process(batch, now=now + timedelta(seconds=10))  # no hit any more: nothing rebuilt
    assert (retry.hits, retry.failed_sequence_numbers, account.events()) == (0, set(), [])

    swept = sweeper.sweep(now=now + SWEEP_AFTER + timedelta(seconds=1))
    assert len(swept.published) == 1
    [event] = account.events()
    assert event["detail"]["voi_id"] == "voi-stolen"
    assert stored(account)["r-1"]["published"] is True


def test_the_sweeper_leaves_alerts_that_could_still_be_in_flight(
    account: PipelineAccount, faults: FaultyClients
) -> None:
    now = datetime.now(UTC)
    match = build_match_service(settings(), faults)
    faults.fail("put_events", 100, put_events_rejected)
    match.process(records("r-1", "r-2", arrived_at=now), now=now)
    faults.heal()

    sweeper = build_publish_sweeper(settings(), faults)
    assert sweeper.sweep(now=now + SWEEP_AFTER - timedelta(seconds=1)).found == 0
    assert account.events() == []
    assert sweeper.sweep(now=now + SWEEP_AFTER + timedelta(seconds=1)).found == 2
    assert sorted(e["detail"]["read_id"] for e in account.events()) == ["r-1", "r-2"]


def test_publishing_failures_leave_the_alert_for_the_next_sweep(
    account: PipelineAccount, faults: FaultyClients
) -> None:
    now = datetime.now(UTC)
    match = build_match_service(settings(), faults)
    faults.fail("put_events", 100, put_events_rejected)
    match.process(records("r-1", arrived_at=now), now=now)

    sweeper = build_publish_sweeper(settings(), faults)
    later = now + SWEEP_AFTER + timedelta(seconds=1)
    first = sweeper.sweep(now=later)
    assert (first.found, first.published, len(first.failed)) == (1, [], 1)
    faults.heal()
    assert len(sweeper.sweep(now=later).published) == 1
    assert len(account.events()) == 1
