"""`nas replay` in local mode (R-QUARANTINE, R-DUP): a quarantined read comes back once its camera is
registered, stored once and alerted once; a set-aside stream range is re-sent from the on-failure
queue; rows Firehose could not convert are delivered again; replaying twice changes nothing."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from nas.adapters.cameras import NEGATIVE_CACHE_TTL_S, DynamoCameraRegistry
from nas.adapters.dynamo import from_item, to_item
from nas.cli.main import main
from nas.domain.layout import partition_of
from nas.domain.models import Camera, CameraSource, alert_id_for
from nas.domain.replay import on_failure_record
from nas.domain.timefmt import epoch_millis
from nas.domain.vrm import canonical_vrm
from nas.local.poller import function_arn, stream_arn
from tests.local.conftest import Local, wait_for

STOLEN = "demo-kent-stolen"


def read(camera_id: str, read_id: str, vrm: str = "KN19ABC") -> bytes:
    return json.dumps(
        {
            "schema": "nas.read.v1",
            "read_id": read_id,
            "vrm": vrm,
            "captured_at": (datetime.now(UTC) - timedelta(seconds=20)).isoformat().replace("+00:00", "Z"),
            "camera_id": camera_id,
            "lea": "KENT",
            "source": "static",
        }
    ).encode()


def replay(local: Local, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, int], str]:
    status = main(["replay", *args, "--config", str(local.config_path)])
    captured = capsys.readouterr()
    counts = {
        name: int(value)
        for name, _, value in (part.partition("=") for part in captured.out.split())
        if value.isdigit()
    }
    return status, counts, captured.err


def stored(local: Local, read_id: str) -> int:
    s3 = local.client("s3")
    bucket = local.config["buckets"]["reads"]
    found = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="reads/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            found += (
                pq.read_table(io.BytesIO(body), columns=["read_id"])
                .column("read_id")
                .to_pylist()
                .count(read_id)
            )
    return found


def alert(local: Local, alert_id: str) -> dict[str, Any] | None:
    item = (
        local.client("dynamodb")
        .get_item(TableName=local.config["tables"]["alerts"], Key=to_item({"alert_id": alert_id}))
        .get("Item")
    )
    return from_item(item) if item else None


def quarantined_reason(local: Local, data: bytes) -> str | None:
    s3 = local.client("s3")
    bucket = local.config["buckets"]["quarantine"]
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix="quarantine/").get("Contents", []):
        document = json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
        for record in document["records"]:
            if base64.b64decode(record["data_base64"]) == data:
                return str(record["reason"])
    return None


def test_a_quarantined_read_comes_back_once_its_camera_is_registered_stored_once_and_alerted_once(
    local: Local, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    camera = Camera(
        camera_id=f"KENT-NEW-{tag}", lea="KENT", lat=51.2, lon=1.1, source=CameraSource.STATIC, active=True
    )
    read_id = f"t-{tag}-early"
    data = read(camera.camera_id, read_id)
    local.client("kinesis").put_record(
        StreamName=local.config["stream"], PartitionKey=camera.camera_id, Data=data
    )
    assert wait_for(lambda: quarantined_reason(local, data)) == "unknown-camera"

    DynamoCameraRegistry(local.client("dynamodb"), local.config["tables"]["cameras"]).put_many([camera])
    time.sleep(NEGATIVE_CACHE_TTL_S + 0.5)  # the consumers forget the miss within seconds
    today = datetime.now(UTC).date().isoformat()
    status, counts, err = replay(local, capsys, "quarantine", "--reason", "unknown-camera", "--date", today)
    assert status == 0, err
    assert counts["resent"] >= 1
    assert counts["unknown-camera"] >= 1

    alert_id = alert_id_for(camera.camera_id, read_id, STOLEN)
    assert wait_for(lambda: alert(local, alert_id))["read_id"] == read_id
    assert wait_for(lambda: stored(local, read_id)) == 1

    again, counts, _ = replay(local, capsys, "quarantine", "--reason", "unknown-camera", "--date", today)
    assert again == 0
    assert counts["skipped"] >= 1
    time.sleep(2.5)  # what a second re-send would have stored by now
    assert stored(local, read_id) == 1
    assert alert(local, alert_id) is not None


def test_a_set_aside_range_is_re_sent_from_the_on_failure_queue_and_deleted_once_in(
    local: Local, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    kent = "KENT-A2-001"
    read_id = f"t-{tag}-aside"
    put = local.client("kinesis").put_record(
        StreamName=local.config["stream"], PartitionKey=kent, Data=read(kent, read_id)
    )
    alert_id = alert_id_for(kent, read_id, STOLEN)
    wait_for(lambda: alert(local, alert_id))
    # As if match had given up on the range: no alert, and the range in the on-failure queue.
    local.client("dynamodb").delete_item(
        TableName=local.config["tables"]["alerts"], Key=to_item({"alert_id": alert_id})
    )
    sqs, queue = local.client("sqs"), local.config["queues"]["consumer-failures"]
    now = datetime.now(UTC)
    region = local.config["region"]
    sqs.send_message(
        QueueUrl=queue,
        MessageBody=on_failure_record(
            function_arn=function_arn(region, "nas-local-match"),
            stream_arn=stream_arn(region, local.config["stream"]),
            shard_id=put["ShardId"],
            first=(put["SequenceNumber"], now),
            last=(put["SequenceNumber"], now),
            batch_size=1,
            attempts=4,
            condition="RetryAttemptsExhausted",
            now=now,
        ).decode(),
    )

    status, counts, err = replay(local, capsys, "failures")
    assert status == 0, err
    assert (counts["examined"], counts["resent"], counts["nas-local-match"]) == (1, 1, 1)
    assert wait_for(lambda: alert(local, alert_id))["read_id"] == read_id
    again, counts, _ = replay(local, capsys, "failures")
    assert (again, counts["examined"]) == (0, 0)  # the message went once its range was back in


def test_a_range_the_stream_no_longer_holds_is_reported_and_left_in_the_queue(
    local: Local, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs, queue = local.client("sqs"), local.config["queues"]["consumer-failures"]
    shard = local.client("kinesis").list_shards(StreamName=local.config["stream"])["Shards"][0]["ShardId"]
    now = datetime.now(UTC)
    region = local.config["region"]
    sqs.send_message(
        QueueUrl=queue,
        MessageBody=on_failure_record(
            function_arn=function_arn(region, "nas-local-archive"),
            stream_arn=stream_arn(region, local.config["stream"]),
            shard_id=shard,
            first=("99999999", now),
            last=("99999999", now),
            batch_size=1,
            attempts=4,
            condition="RetryAttemptsExhausted",
            now=now,
        ).decode(),
    )
    try:
        status, counts, err = replay(local, capsys, "failures")
        assert (status, counts["failed"], counts["resent"]) == (1, 1, 0)
        assert "left in the queue" in err
    finally:
        sqs.purge_queue(QueueUrl=queue)


def test_rows_firehose_could_not_convert_are_delivered_again_once(
    local: Local, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    captured = datetime.now(UTC) - timedelta(minutes=3)
    row = {
        "read_id": f"t-{tag}-row",
        "camera_id": "KENT-A2-001",
        "vrm": "AB12CDE",
        "captured_at": epoch_millis(captured),
        "lea": "KENT",
        "source": "static",
        "lat": 51.2798,
        "lon": 1.0789,
        "late": False,
        "ingested_at": epoch_millis(captured),
        "vrm_canonical": canonical_vrm("AB12CDE"),
        **partition_of(
            captured_at=captured, vrm_canonical=canonical_vrm("AB12CDE"), late=False, stored_at=captured
        ).values(),
    }
    # What Firehose writes for a row its conversion refused (a schema since fixed).
    error = {
        "attemptsMade": 1,
        "arrivalTimestamp": epoch_millis(captured),
        "ErrorCode": "DataFormatConversion.ParseError",
        "ErrorMessage": "column missing from the table",
        "rawData": base64.b64encode(orjson.dumps(row)).decode(),
    }
    key = f"firehose-errors/format-conversion-failed/{captured:%Y/%m/%d}/nas-read-rows-{tag}"
    local.client("s3").put_object(
        Bucket=local.config["buckets"]["reads"], Key=key, Body=orjson.dumps(error) + b"\n"
    )

    status, counts, err = replay(local, capsys, "firehose-errors", "--date", captured.date().isoformat())
    assert status == 0, err
    assert counts["resent"] == 1
    assert stored(local, row["read_id"]) == 1
    again, counts, _ = replay(local, capsys, "firehose-errors")
    assert again == 0
    assert counts["resent"] == 0
    assert stored(local, row["read_id"]) == 1
