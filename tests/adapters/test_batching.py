"""Call-size limits and retries of the adapters, with fake clients that record every call."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from nas.adapters.dynamo import UnprocessedItemsError, batch_get, batch_put
from nas.adapters.events import EventBridgePublisher
from nas.adapters.firehose import (
    MAX_BYTES_PER_CALL,
    MAX_BYTES_PER_RECORD,
    MAX_ROWS_PER_RECORD,
    FirehoseRowSink,
    call_batches,
    record_data,
    row_records,
)
from nas.domain.models import Alert
from tests.pipeline.conftest import voi_entry


class FakeDynamo:
    """Answers BatchGetItem/BatchWriteItem; for the first `throttled_calls` calls it holds back the
    last `hold_back` keys, as DynamoDB does under throttling."""

    def __init__(self, *, throttled_calls: int = 0, hold_back: int = 1) -> None:
        self.calls: list[int] = []
        self.throttled_calls = throttled_calls
        self.hold_back = hold_back

    def _split(self, items: list[Any]) -> tuple[list[Any], list[Any]]:
        self.calls.append(len(items))
        if len(self.calls) <= self.throttled_calls:
            return items[: -self.hold_back], items[-self.hold_back :]
        return items, []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        [(table, spec)] = RequestItems.items()
        done, held = self._split(spec["Keys"])
        response: dict[str, Any] = {"Responses": {table: [{**k, "found": {"BOOL": True}} for k in done]}}
        if held:
            response["UnprocessedKeys"] = {table: {**spec, "Keys": held}}
        return response

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        [(table, requests)] = RequestItems.items()
        _, held = self._split(requests)
        return {"UnprocessedItems": {table: held}} if held else {}


def test_batch_get_uses_100_keys_a_call_and_retries_unprocessed_ones() -> None:
    client = FakeDynamo(throttled_calls=2, hold_back=10)
    items = batch_get(client, "t", [{"vrm": f"V{i}"} for i in range(250)], sleep=lambda _: None)  # type: ignore[arg-type]
    assert sorted(i["vrm"] for i in items) == sorted(f"V{i}" for i in range(250))
    assert all(i["found"] for i in items)
    assert client.calls == [100, 10, 10, 100, 50]  # the first chunk's last 10 keys held back twice


def test_batch_get_gives_up_after_sustained_throttling() -> None:
    client = FakeDynamo(throttled_calls=100)
    with pytest.raises(UnprocessedItemsError, match="still unprocessed"):
        batch_get(client, "t", [{"vrm": "A"}, {"vrm": "B"}], sleep=lambda _: None)  # type: ignore[arg-type]


def test_batch_put_writes_25_a_call_and_retries() -> None:
    client = FakeDynamo(throttled_calls=1, hold_back=5)
    written = batch_put(client, "t", [{"camera_id": f"C{i}"} for i in range(60)], sleep=lambda _: None)  # type: ignore[arg-type]
    assert written == 60
    assert client.calls == [25, 5, 25, 10]


def test_firehose_calls_stay_within_500_records_and_4_mib() -> None:
    rows = [b"x" * 100] * 1200 + [b"y" * (MAX_BYTES_PER_CALL // 3)] * 4
    batches = list(call_batches(rows, list(range(len(rows)))))
    assert [len(b) for b in batches] == [500, 500, 202, 2]  # the last two big rows cannot join the 3rd call
    for batch in batches:
        assert len(batch) <= 500
        assert sum(len(rows[i]) for i in batch) <= MAX_BYTES_PER_CALL
    assert sorted(i for b in batches for i in b) == list(range(len(rows)))


class FlakyFirehose:
    """Fails, for its first `times` calls, every record holding one of the `failing` rows."""

    def __init__(self, failing: set[bytes], times: int) -> None:
        self.failing, self.times, self.calls = failing, times, 0
        self.records: list[bytes] = []

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:  # noqa: N803
        self.calls += 1
        fail = self.calls <= self.times
        results = []
        for record in Records:
            rows = set(record["Data"].splitlines())
            if fail and rows & self.failing:
                results.append({"ErrorCode": "ServiceUnavailable"})
            else:
                results.append({"RecordId": "r"})
                self.records.append(record["Data"])
        return {"FailedPutCount": sum("ErrorCode" in r for r in results), "RequestResponses": results}


def test_rows_travel_many_to_a_record_within_deaggregations_limits() -> None:
    rows = [b'{"n":%d}\n' % i for i in range(1200)] + [b"y" * (MAX_BYTES_PER_RECORD // 3) + b"\n"] * 4
    records = row_records(rows)
    assert [len(r) for r in records] == [500, 500, 202, 2]  # the 4th big row cannot join the 3rd
    for record in records:
        assert len(record) <= MAX_ROWS_PER_RECORD
        assert len(record_data(rows, record)) <= MAX_BYTES_PER_RECORD
    assert [i for r in records for i in r] == list(range(len(rows)))  # in order, each once
    assert record_data([b"a", b"b\n"], [0, 1]) == b"a\nb\n"  # one row a line


def test_firehose_sink_sends_a_batchs_rows_as_one_record_and_resends_it_when_it_fails() -> None:
    client = FlakyFirehose({b"b"}, times=2)
    assert FirehoseRowSink(client, "s", sleep=lambda _: None).put_rows([b"a\n", b"b\n", b"c\n"]) == set()  # type: ignore[arg-type]
    assert client.calls == 3
    assert client.records == [b"a\nb\nc\n"]


def test_firehose_sink_reports_every_row_of_a_record_that_never_went_through() -> None:
    client = FlakyFirehose({b"b"}, times=99)
    rows = [b"r%d\n" % i for i in range(600)]
    rows[550] = b"b\n"  # in the second record (rows 500-599)
    failed = FirehoseRowSink(client, "s", sleep=lambda _: None).put_rows(rows)  # type: ignore[arg-type]
    assert failed == set(range(500, 600))
    assert [r.count(b"\n") for r in client.records] == [500]


class FlakyEvents:
    def __init__(self, fail_first: int) -> None:
        self.batches: list[int] = []
        self.fail_first = fail_first

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.batches.append(len(Entries))
        results = [
            {"ErrorCode": "ThrottlingException"}
            if len(self.batches) == 1 and i < self.fail_first
            else {"EventId": "e"}
            for i in range(len(Entries))
        ]
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def alerts(n: int) -> list[Alert]:
    from nas.domain.models import Read
    from tests.pipeline.conftest import CAMERAS

    entry = voi_entry("AB12CDE")
    now = datetime.now(UTC)
    return [
        Alert.raise_for(
            Read.model_validate_json(
                f'{{"schema":"nas.read.v1","read_id":"r{i}","vrm":"AB12CDE","captured_at":"{now.isoformat()}",'
                f'"camera_id":"{CAMERAS[0].camera_id}","lea":"KENT","source":"static"}}'
            ),
            entry,
            now,
        )
        for i in range(n)
    ]


def test_put_events_sends_tens_and_resends_failed_entries() -> None:
    client = FlakyEvents(fail_first=3)
    failed = EventBridgePublisher(client, "bus", sleep=lambda _: None).publish(alerts(23))  # type: ignore[arg-type]
    assert failed == set()
    assert client.batches == [10, 3, 10, 3]
