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

from nas.local.poller import IDLE_SLEEP_S, Consumer, ShardPoller, lowest_failure
from nas.local.sink import ParquetRowSink
from tests.local.conftest import free_port, wait_for


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
        self.iterator_calls.append((kw["ShardIteratorType"], kw.get("StartingSequenceNumber")))
        start = 0 if kw["ShardIteratorType"] == "TRIM_HORIZON" else int(kw["StartingSequenceNumber"]) - 1
        return {"ShardIterator": str(start)}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803 - boto3's names
        start = int(ShardIterator)
        batch = self.records[start : start + Limit]
        return {"Records": batch, "NextShardIterator": str(start + len(batch))}


def test_partial_batch_failure_rereads_from_the_lowest_failed_sequence() -> None:
    kinesis = FakeKinesis(5)
    seen: list[list[str]] = []
    stop = threading.Event()

    def handler(event: dict[str, Any], _: Any) -> dict[str, Any]:
        sequences = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
        assert event["Records"][0]["eventID"] == f"shardId-0:{sequences[0]}"
        seen.append(sequences)
        if len(seen) == 1:
            return {"batchItemFailures": [{"itemIdentifier": "4"}, {"itemIdentifier": "3"}]}
        if len(seen) == 2:
            stop.set()
        return {"batchItemFailures": []}

    consumer = Consumer("match", handler)
    poller = ShardPoller(
        kinesis, stream="s", shard_id="shardId-0", consumer=consumer, region="eu-west-2", stop=stop
    )
    poller.run()
    assert seen == [["1", "2", "3", "4", "5"], ["3", "4", "5"]]
    assert kinesis.iterator_calls == [("TRIM_HORIZON", None), ("AT_SEQUENCE_NUMBER", "3")]
    stats = consumer.stats.snapshot()
    assert (stats["processed"], stats["retried"], stats["batches"]) == (5, 3, 2)


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
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:  # noqa: N803
        self.objects[Key] = Body


def test_sink_writes_one_parquet_file_per_partition_sorted_by_canonical_vrm() -> None:
    s3 = FakeS3()
    sink = ParquetRowSink(s3, "b", flush_interval_s=60)
    live = {"arrival": "live", "day": "2026-01-01", "vrm_bucket": 7}
    rows = [
        {"read_id": "a", "vrm_canonical": "X2", "captured_at": 1767225600000, "lane": 2, **live},
        {"read_id": "b", "captured_at": 1767312000000, "late": True, "arrival": "late", "day": "2026-01-03"}
        | {"vrm_bucket": 7},
        {"read_id": "c", "vrm_canonical": "X1", "captured_at": 1767225700000, **live},
    ]
    unpartitioned = {"read_id": "d", "captured_at": 1767225600000}
    encoded = [json.dumps(r).encode() for r in [*rows, unpartitioned]] + [b"not json"]
    assert sink.put_rows(encoded) == {3, 4}
    assert s3.objects == {}
    assert sink.flush() == 3
    by_partition = {
        "/".join(key.split("/")[1:4]): pq.read_table(io.BytesIO(body)).to_pylist()
        for key, body in s3.objects.items()
    }
    assert set(by_partition) == {
        "arrival=live/day=2026-01-01/vrm_bucket=7",
        "arrival=late/day=2026-01-03/vrm_bucket=7",
    }
    first, second = by_partition["arrival=live/day=2026-01-01/vrm_bucket=7"]
    assert (first["read_id"], second["read_id"]) == ("c", "a")  # sorted by vrm_canonical
    assert (second["lane"], second["captured_at"]) == (2, datetime(2026, 1, 1, tzinfo=UTC))
    assert sink.flush() == 0


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
        assert "demo" not in config
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err.decode()
    assert b"stopped" in out
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
