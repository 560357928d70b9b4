"""Pollers honour partial batch responses per consumer; the sink writes Parquet per capture date;
`nas local` stops cleanly on SIGINT."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from nas.domain.replay import SetAsideRange, firehose_error_rows
from nas.local.checkpoints import FilePositions
from nas.local.poller import IDLE_SLEEP_S, Consumer, ShardPoller, lowest_failure
from nas.local.sink import ParquetRowSink
from tests.local.conftest import free_port, wait_for

# Local mode drops metrics (no CloudWatch); the digest job's run on stop then has none to publish.


class FakeKinesis:
    """One shard of records with sequence numbers 1..n; iterators are positions."""

    def __init__(self, n: int) -> None:
        self.records = [
            {
                "SequenceNumber": str(i),
                "PartitionKey": "p",
                "Data": f"r{i}".encode(),
                "ApproximateArrivalTimestamp": datetime(2026, 1, 1, tzinfo=UTC),
            }
            for i in range(1, n + 1)
        ]
        self.iterator_calls: list[tuple[str, str | None]] = []

    def get_shard_iterator(self, **kw: Any) -> dict[str, str]:
        kind, sequence = kw["ShardIteratorType"], kw.get("StartingSequenceNumber")
        self.iterator_calls.append((kind, sequence))
        after = {"TRIM_HORIZON": 0, "AT_SEQUENCE_NUMBER": int(sequence or 0) - 1}.get(
            kind, int(sequence or 0)
        )
        return {"ShardIterator": str(after)}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803 - boto3's names
        """Records after the iterator's sequence number (as numbers, whatever the stream trimmed)."""
        after = int(ShardIterator)
        batch = [r for r in self.records if int(r["SequenceNumber"]) > after][:Limit]
        last = int(batch[-1]["SequenceNumber"]) if batch else after
        return {"Records": batch, "NextShardIterator": str(last), "MillisBehindLatest": 0}


def test_partial_batch_failure_is_retried_from_the_lowest_failed_sequence(tmp_path: Path) -> None:
    kinesis = FakeKinesis(5)
    seen: list[list[str]] = []
    stop = threading.Event()
    committed: list[str] = []

    class Recording(FilePositions):
        def commit(self, shard_id: str, sequence_number: str) -> None:
            committed.append(sequence_number)
            super().commit(shard_id, sequence_number)

    def handler(event: dict[str, Any], _: Any) -> dict[str, Any]:
        sequences = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
        assert event["Records"][0]["eventID"] == f"shardId-0:{sequences[0]}"
        seen.append(sequences)
        if len(seen) == 1:
            return {"batchItemFailures": [{"itemIdentifier": "4"}, {"itemIdentifier": "3"}]}
        if len(seen) == 2:
            stop.set()
        return {"batchItemFailures": []}

    positions = Recording(tmp_path / "positions")
    consumer = Consumer("match", handler, positions=positions)
    poller = ShardPoller(
        kinesis, stream="s", shard_id="shardId-0", consumer=consumer, region="eu-west-2", stop=stop
    )
    poller.run()
    assert seen == [["1", "2", "3", "4", "5"], ["3", "4", "5"]]
    assert committed == ["2", "5"]  # what came before the failure, then the rest once it went through
    assert positions.position("shardId-0") == "5"
    stats = consumer.stats.snapshot()
    assert (stats["processed"], stats["retried"], stats["batches"]) == (5, 3, 1)


def test_a_record_that_keeps_failing_is_halved_out_and_set_aside_for_replay(tmp_path: Path) -> None:
    kinesis = FakeKinesis(8)
    stop = threading.Event()
    delivered: list[list[str]] = []
    sent: list[bytes] = []

    def handler(event: dict[str, Any], _: Any) -> dict[str, Any]:
        sequences = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
        if "6" in sequences:
            raise RuntimeError("poison")
        delivered.append(sequences)
        if "8" in sequences:
            stop.set()
        return {"batchItemFailures": []}

    class Queue:
        def send(self, record: bytes) -> None:
            sent.append(record)

    consumer = Consumer("archive", handler, positions=FilePositions(tmp_path / "p"))
    poller = ShardPoller(
        kinesis,
        stream="reads",
        shard_id="shardId-0",
        consumer=consumer,
        region="eu-west-2",
        stop=stop,
        failures=Queue(),
        idle_sleep_s=0,
    )
    poller.run()
    assert sorted(s for batch in delivered for s in batch) == ["1", "2", "3", "4", "5", "7", "8"]
    [record] = sent
    aside = SetAsideRange.parse(record)  # Lambda's on-failure format, as `nas replay` reads it
    assert (aside.shard_id, aside.first_sequence_number, aside.last_sequence_number) == (
        "shardId-0",
        "6",
        "6",
    )
    assert aside.stream_arn.endswith(":stream/reads")
    assert aside.function_arn.endswith(":function:nas-local-archive")
    stats = consumer.stats.snapshot()
    assert (stats["set_aside"], stats["processed"]) == (1, 8)
    assert stats["bisected"] >= 3
    assert consumer.positions is not None
    assert consumer.positions.position("shardId-0") == "8"


def test_a_resumed_poller_starts_after_its_committed_position(tmp_path: Path) -> None:
    kinesis = FakeKinesis(5)
    positions = FilePositions(tmp_path / "p")
    positions.commit("shardId-0", "3")
    stop = threading.Event()
    seen: list[str] = []

    def handler(event: dict[str, Any], _: Any) -> dict[str, Any]:
        seen.extend(r["kinesis"]["sequenceNumber"] for r in event["Records"])
        stop.set()
        return {"batchItemFailures": []}

    consumer = Consumer("match", handler, positions=positions)
    ShardPoller(
        kinesis, stream="s", shard_id="shardId-0", consumer=consumer, region="eu-west-2", stop=stop
    ).run()
    assert kinesis.iterator_calls == [("AFTER_SEQUENCE_NUMBER", "3")]
    assert seen == ["4", "5"]


def test_records_trimmed_before_they_were_read_are_counted_not_skipped_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kinesis = FakeKinesis(9)
    del kinesis.records[:4]  # 1-4 trimmed by the stream's retention
    positions = FilePositions(tmp_path / "p")
    positions.commit("shardId-0", "1")
    stop = threading.Event()
    consumer = Consumer(
        "match", lambda event, _: stop.set() or {"batchItemFailures": []}, positions=positions
    )
    ShardPoller(
        kinesis, stream="s", shard_id="shardId-0", consumer=consumer, region="eu-west-2", stop=stop
    ).run()
    assert consumer.stats.snapshot()["trimmed"] == 3  # 2, 3 and 4 were never read
    assert "trimmed from the stream before they were read" in caplog.text


def test_partial_batch_responses_of_concurrent_batches_stay_apart() -> None:
    """One powertools BatchProcessor shared by local mode's poller threads would mix batches up."""
    from nas.pipeline.batch import partial_batch_response
    from tests.handlers.events import FakeLambdaContext
    from tests.pipeline.kinesis_events import kinesis_event, sequence_number

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    mixed: list[str] = []

    def run(first: int) -> None:
        event = kinesis_event([("k", b"x")] * 20, first_sequence=first)
        failed = {sequence_number(first + 5)}
        for _ in range(200):
            response = partial_batch_response(event, failed, FakeLambdaContext())
            got = {f["itemIdentifier"] for f in response["batchItemFailures"]}
            if got != failed:
                mixed.append(f"{failed} got {got}")

    try:
        threads = [threading.Thread(target=run, args=(n * 100,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert mixed == []


class RecordingStop(threading.Event):
    """A stop event that records every wait instead of sleeping, and stops after `waits` waits."""

    def __init__(self, waits: int) -> None:
        super().__init__()
        self.waited: list[float] = []
        self._waits = waits

    def wait(self, timeout: float | None = None) -> bool:
        self.waited.append(float(timeout or 0))
        if len(self.waited) >= self._waits:
            self.set()
        return self.is_set()


@pytest.mark.parametrize(("window_s", "expected_waits"), [(0.0, [IDLE_SLEEP_S]), (1.5, [1.5])])
def test_batching_window_waits_after_a_short_batch_only(window_s: float, expected_waits: list[float]) -> None:
    kinesis = FakeKinesis(3)  # one short batch (3 < 500), then an empty shard
    stop = RecordingStop(waits=1)
    consumer = Consumer("archive", lambda event, _: {"batchItemFailures": []}, batch_window_s=window_s)
    poller = ShardPoller(
        kinesis, stream="s", shard_id="shardId-0", consumer=consumer, region="eu-west-2", stop=stop
    )
    poller.run()
    # The first wait after the short batch: the window if there is one, else the empty shard's idle sleep.
    assert stop.waited == expected_waits
    assert consumer.stats.snapshot()["processed"] == 3


def test_lowest_failure_compares_sequence_numbers_as_numbers() -> None:
    assert lowest_failure({"batchItemFailures": []}) is None
    assert lowest_failure(None) is None
    failures = [{"itemIdentifier": "10"}, {"itemIdentifier": "9"}]
    assert lowest_failure({"batchItemFailures": failures}) == "9"


class FakeS3:
    def __init__(self, *, failing: int = 0) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts = 0
        self.failing = failing

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:  # noqa: N803
        self.puts += 1
        if self.failing:
            self.failing -= 1
            raise ConnectionError("S3 is down")
        self.objects[Key] = Body


LIVE = {"arrival": "live", "day": "2026-01-01", "vrm_bucket": 7}
ROWS = [
    {"read_id": "a", "vrm_canonical": "X2", "captured_at": 1767225600000, "lane": 2, **LIVE},
    {"read_id": "b", "captured_at": 1767312000000, "late": True, "arrival": "late", "day": "2026-01-03"}
    | {"vrm_bucket": 7},
    {"read_id": "c", "vrm_canonical": "X1", "captured_at": 1767225700000, **LIVE},
]


def parquet_rows(s3: FakeS3) -> dict[str, list[dict[str, Any]]]:
    return {
        "/".join(key.split("/")[1:4]): pq.read_table(io.BytesIO(body)).to_pylist()
        for key, body in s3.objects.items()
        if key.endswith(".parquet")
    }


def test_rows_are_written_only_once_committed_one_file_per_partition_sorted_by_canonical_vrm(
    tmp_path: Path,
) -> None:
    s3 = FakeS3()
    sink = ParquetRowSink(s3, "b", journal_dir=tmp_path, flush_interval_s=60)
    unpartitioned = {"read_id": "d", "captured_at": 1767225600000}
    encoded = [json.dumps(r).encode() for r in [*ROWS, unpartitioned]] + [b"not json"]
    assert sink.put_rows(encoded) == {3, 4}
    assert sink.flush() == 0  # staged, not acknowledged: nothing to write yet
    sink.commit("shardId-0", "7")
    assert s3.objects == {}
    assert sink.flush() == 3
    by_partition = parquet_rows(s3)
    assert set(by_partition) == {
        "arrival=live/day=2026-01-01/vrm_bucket=7",
        "arrival=late/day=2026-01-03/vrm_bucket=7",
    }
    first, second = by_partition["arrival=live/day=2026-01-01/vrm_bucket=7"]
    assert (first["read_id"], second["read_id"]) == ("c", "a")  # sorted by vrm_canonical
    assert (second["lane"], second["captured_at"]) == (2, datetime(2026, 1, 1, tzinfo=UTC))
    assert sink.flush() == 0
    assert sink.position("shardId-0") == "7"


def test_a_failed_batchs_rows_are_forgotten(tmp_path: Path) -> None:
    s3 = FakeS3()
    sink = ParquetRowSink(s3, "b", journal_dir=tmp_path)
    sink.put_rows([json.dumps(ROWS[0]).encode()])
    sink.rollback()
    sink.commit("shardId-0", "3")
    assert sink.flush() == 0
    assert sink.position("shardId-0") == "3"


def test_journaled_rows_survive_a_crash_and_are_stored_once(tmp_path: Path) -> None:
    s3 = FakeS3(failing=1)
    crashed = ParquetRowSink(s3, "b", journal_dir=tmp_path)
    crashed.put_rows([json.dumps(r).encode() for r in ROWS])
    crashed.commit("shardId-0", "7")
    crashed.put_rows([json.dumps({**ROWS[0], "read_id": "cut"}).encode()])
    crashed.commit("shardId-0", "9")
    # A crash while the second commit was being written: its line is cut short.
    current = tmp_path / "current.jsonl"
    current.write_bytes(current.read_bytes()[:-10])
    assert crashed.flush() == 0  # S3 failed: the segment stays, its keys recorded

    restarted = ParquetRowSink(s3, "b", journal_dir=tmp_path)
    assert restarted.recover() == 3
    assert restarted.position("shardId-0") == "7"  # the cut commit was never acknowledged
    assert sorted(r["read_id"] for rows in parquet_rows(s3).values() for r in rows) == ["a", "b", "c"]
    assert len(s3.objects) == 2  # one per partition, the same keys as the failed attempt: written once
    assert list(tmp_path.glob("segment-*")) == []


def test_rows_parquet_refuses_go_where_firehose_puts_them(tmp_path: Path) -> None:
    s3 = FakeS3()
    sink = ParquetRowSink(s3, "b", journal_dir=tmp_path)
    bad = {**ROWS[0], "read_id": "bad", "lane": "two"}
    sink.put_rows([json.dumps(ROWS[0]).encode(), json.dumps(bad).encode()])
    sink.commit("shardId-0", "2")
    assert sink.flush() == 1
    [errors] = [
        body
        for key, body in s3.objects.items()
        if key.startswith("firehose-errors/format-conversion-failed/")
    ]
    rows, unreadable = firehose_error_rows(errors)
    assert (unreadable, [json.loads(r)["read_id"] for r in rows]) == (0, ["bad"])
    assert json.loads(errors.splitlines()[0])["ErrorCode"] == "DataFormatConversion.ParseError"


def test_nas_local_writes_its_config_and_exits_0_on_sigint(tmp_path: Path) -> None:
    aws_port, api_port = free_port(), free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "nas.cli.main",
            "local",
            "--aws-port",
            str(aws_port),
            "--api-port",
            str(api_port),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "lambdas")},
    )
    try:
        config_file = tmp_path / ".nas-local.json"
        wait_for(config_file.exists, timeout_s=60)
        config = json.loads(config_file.read_text())
        assert config["api_url"] == f"http://127.0.0.1:{api_port}"
        assert config["aws_endpoint"] == f"http://127.0.0.1:{aws_port}"
        assert config["console_url"] == f"http://127.0.0.1:{api_port}/console/"
        assert "demo" not in config
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err.decode()
    assert b"stopped" in out
    assert f"console       http://127.0.0.1:{api_port}/console/".encode() in out  # the banner names it
    assert wait_for(lambda: not _listening(aws_port), timeout_s=10)


def _listening(port: int) -> bool:
    from nas.local.moto_server import is_listening

    return is_listening(port)


def test_lambda_event_passes_base64_text_through_and_encodes_bytes() -> None:
    from nas.local.poller import lambda_event

    when = datetime(2026, 1, 1, tzinfo=UTC)
    records = [
        {"SequenceNumber": "1", "PartitionKey": "p", "Data": "cjE=", "ApproximateArrivalTimestamp": 1.5},
        {"SequenceNumber": "2", "PartitionKey": "p", "Data": b"r1", "ApproximateArrivalTimestamp": when},
    ]
    event = lambda_event(records, shard_id="s", source_arn="arn", region="eu-west-2", role_arn="role")
    assert [r["kinesis"]["data"] for r in event["Records"]] == ["cjE=", "cjE="]
    assert event["Records"][1]["kinesis"]["approximateArrivalTimestamp"] == when.timestamp()


def test_local_moto_keeps_connections_alive_and_serves_raw_get_records() -> None:
    import boto3
    import urllib3.connection
    from botocore.credentials import Credentials

    from nas.local.moto_server import MotoProcess, endpoint_url
    from nas.local.stream_reader import GetRecordsError, RawKinesisReader

    port = free_port()
    moto = MotoProcess(port)
    moto.start()
    try:
        kinesis = boto3.client(
            "kinesis",
            endpoint_url=endpoint_url(port),
            region_name="eu-west-2",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        kinesis.create_stream(StreamName="s", ShardCount=1)
        wait_for(
            lambda: kinesis.describe_stream(StreamName="s")["StreamDescription"]["StreamStatus"] == "ACTIVE"
        )
        reader = RawKinesisReader(
            kinesis,
            endpoint=endpoint_url(port),
            region="eu-west-2",
            credentials=Credentials("local", "local"),
        )
        iterator = reader.get_shard_iterator(
            StreamName="s", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        opened: list[object] = []
        original = urllib3.connection.HTTPConnection._new_conn

        def counting(self: Any) -> Any:
            opened.append(self)
            return original(self)

        urllib3.connection.HTTPConnection._new_conn = counting  # type: ignore[method-assign]
        try:
            data: list[str] = []
            for i in range(5):
                kinesis.put_records(StreamName="s", Records=[{"PartitionKey": "p", "Data": f"r{i}".encode()}])
                response = reader.get_records(ShardIterator=iterator, Limit=10)
                iterator = response["NextShardIterator"]
                data += [r["Data"] for r in response["Records"]]
        finally:
            urllib3.connection.HTTPConnection._new_conn = original  # type: ignore[method-assign]
        assert opened == []  # every put on the connection the earlier calls opened
        assert data == ["cjA=", "cjE=", "cjI=", "cjM=", "cjQ="]
        with pytest.raises(GetRecordsError):
            reader.get_records(ShardIterator="not-an-iterator")

        # HEAD keeps the length a GET would return, through the kept-alive handler too.
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint_url(port),
            region_name="eu-west-2",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        s3.create_bucket(
            Bucket="nas-head-check", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        s3.put_object(Bucket="nas-head-check", Key="k", Body=b"x" * 1234)
        assert s3.head_object(Bucket="nas-head-check", Key="k")["ContentLength"] == 1234
        assert s3.get_object(Bucket="nas-head-check", Key="k")["Body"].read() == b"x" * 1234
    finally:
        moto.stop()


def test_the_local_stream_refuses_puts_with_a_clear_error_when_its_memory_budget_is_spent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3
    from botocore.exceptions import ClientError

    from nas.local.fast_kinesis import MAX_MB_ENV
    from nas.local.moto_server import MotoProcess, endpoint_url

    monkeypatch.setenv(MAX_MB_ENV, "1")  # the moto server's own environment, inherited
    port = free_port()
    moto = MotoProcess(port)
    moto.start()
    try:
        kinesis = boto3.client(
            "kinesis",
            endpoint_url=endpoint_url(port),
            region_name="eu-west-2",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        kinesis.create_stream(StreamName="s", ShardCount=1)
        wait_for(
            lambda: kinesis.describe_stream(StreamName="s")["StreamDescription"]["StreamStatus"] == "ACTIVE"
        )
        record = {"PartitionKey": "p", "Data": b"x" * 300_000}
        kinesis.put_records(StreamName="s", Records=[record, record])  # about 800 KB held
        with pytest.raises(ClientError) as refused:
            kinesis.put_records(StreamName="s", Records=[record])
        error = refused.value.response["Error"]
        assert error["Code"] == "LimitExceededException"
        assert "last 24 hours" in error["Message"]
        assert MAX_MB_ENV in error["Message"]
        # Nothing was trimmed to make room: the first records are all still there.
        iterator = kinesis.get_shard_iterator(
            StreamName="s", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        assert len(kinesis.get_records(ShardIterator=iterator)["Records"]) == 2
    finally:
        moto.stop()
