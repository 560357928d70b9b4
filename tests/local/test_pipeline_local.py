"""Reads put on the local stream reach both handlers through the pollers: alerts for VOI hits,
Parquet rows in the reads bucket, refused records in the quarantine bucket with their reasons."""

from __future__ import annotations

import base64
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nas.adapters.alerts import DynamoAlertStore
from nas.adapters.dynamo import from_item, to_item
from nas.domain.layout import vrm_bucket
from nas.domain.models import Alert, alert_id_for
from nas.domain.timefmt import iso_utc
from nas.domain.vrm import canonical_vrm
from tests.local.conftest import Local, wait_for


def read(camera: dict[str, Any], vrm: str, read_id: str, captured_at: datetime) -> bytes:
    return json.dumps(
        {
            "schema": "nas.read.v1",
            "read_id": read_id,
            "vrm": vrm,
            "captured_at": captured_at.isoformat().replace("+00:00", "Z"),
            "camera_id": camera["camera_id"],
            "lea": camera["lea"],
            "source": camera["source"],
            "direction": "N",
            "confidence": 93,
        }
    ).encode()


def parquet_rows(local: Local) -> list[dict[str, Any]]:
    s3 = local.client("s3")
    bucket = local.config["buckets"]["reads"]
    rows: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="reads/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            table = pq.read_table(io.BytesIO(body))
            rows += [{**r, "_key": obj["Key"], "_schema": table.schema} for r in table.to_pylist()]
    return rows


def test_hits_raise_alerts_and_every_read_lands_as_parquet(local: Local) -> None:
    kent = next(c for c in local.config["demo"]["cameras"] if c["camera_id"] == "KENT-A2-001")
    tag = uuid.uuid4().hex[:8]
    captured = datetime.now(UTC).replace(microsecond=123000) - timedelta(seconds=30)
    hit_id, miss_id = f"t-{tag}-hit", f"t-{tag}-miss"
    local.client("kinesis").put_records(
        StreamName=local.config["stream"],
        Records=[
            {"PartitionKey": kent["camera_id"], "Data": read(kent, "KN19 ABC", hit_id, captured)},
            {"PartitionKey": kent["camera_id"], "Data": read(kent, "ZZ99ZZZ", miss_id, captured)},
        ],
    )
    dynamodb = local.client("dynamodb")
    alert_id = alert_id_for(kent["camera_id"], hit_id, "demo-kent-stolen")

    def alert() -> dict[str, Any] | None:
        item = dynamodb.get_item(
            TableName=local.config["tables"]["alerts"], Key=to_item({"alert_id": alert_id})
        ).get("Item")
        return from_item(item) if item else None

    stored = wait_for(alert)
    assert (stored["vrm"], stored["voi_id"], stored["lea"]) == ("KN19ABC", "demo-kent-stolen", "KENT")

    def mine() -> list[dict[str, Any]]:
        rows = [r for r in parquet_rows(local) if r["read_id"] in (hit_id, miss_id)]
        return rows if len(rows) == 2 else []

    rows = {r["read_id"]: r for r in wait_for(mine)}
    hit = rows[hit_id]
    assert hit["vrm"] == "KN19ABC"
    assert hit["captured_at"] == captured
    assert hit["lat"] == pytest.approx(51.2798)
    assert (hit["confidence"], hit["direction"], hit["late"], hit["lane"]) == (93, "N", False, None)
    bucket = vrm_bucket(canonical_vrm("KN19ABC"))
    assert hit["_key"].startswith(
        f"reads/arrival=live/day={captured.date().isoformat()}/vrm_bucket={bucket}/part-"
    )
    assert hit["_key"].endswith(".parquet")
    schema: pa.Schema = hit["_schema"]
    assert not {"arrival", "day", "vrm_bucket"} & set(schema.names)  # partition values stay in the path
    assert schema.field("captured_at").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("ingested_at").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("lane").type == pa.int32()
    assert schema.field("plate_image_offset").type == pa.int64()
    assert schema.field("late").type == pa.bool_()
    assert schema.field("lat").type == pa.float64()
    assert rows[miss_id]["vrm"] == "ZZ99ZZZ"


def test_refused_records_are_quarantined_with_reasons(local: Local) -> None:
    kent = next(c for c in local.config["demo"]["cameras"] if c["camera_id"] == "KENT-A2-001")
    unknown = {**kent, "camera_id": f"NOPE-{uuid.uuid4().hex[:6]}"}
    garbage = b"\xff not json " + uuid.uuid4().hex.encode()
    local.client("kinesis").put_records(
        StreamName=local.config["stream"],
        Records=[
            {"PartitionKey": "x", "Data": garbage},
            {"PartitionKey": "y", "Data": read(unknown, "AB12CDE", "t-unknown-cam", datetime.now(UTC))},
        ],
    )
    s3 = local.client("s3")
    bucket = local.config["buckets"]["quarantine"]

    def quarantined() -> dict[str, str] | None:
        found: dict[str, str] = {}
        for obj in s3.list_objects_v2(Bucket=bucket, Prefix="quarantine/").get("Contents", []):
            document = json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            for record in document["records"]:
                data = base64.b64decode(record["data_base64"])
                if data == garbage or unknown["camera_id"].encode() in data:
                    found["garbage" if data == garbage else "unknown"] = record["reason"]
        return found if len(found) == 2 else None

    reasons = wait_for(quarantined)
    assert reasons == {"garbage": "not-json", "unknown": "unknown-camera"}


def test_the_pollers_count_what_they_processed(local: Local) -> None:
    stats = local.mode.stats()
    assert set(stats) == {"match", "archive"}
    assert stats["match"]["processed"] > 0
    assert stats["match"]["errors"] == 0
    assert stats["archive"]["errors"] == 0


def test_the_sweeper_timer_publishes_an_alert_left_unpublished(local: Local) -> None:
    """R-ALERT: an alert stored but never published (its batch's PutEvents failed and the entry was
    deleted before the retry) goes out within a sweep once it is a minute old."""
    events, sqs = local.client("events"), local.client("sqs")
    queue = sqs.create_queue(QueueName=f"sweep-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = f"sweep-{uuid.uuid4().hex[:8]}"
    events.put_rule(
        Name=rule, EventBusName=local.config["alert_bus"], EventPattern=json.dumps({"source": ["nas.match"]})
    )
    events.put_targets(
        Rule=rule, EventBusName=local.config["alert_bus"], Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    kent = next(c for c in local.config["demo"]["cameras"] if c["camera_id"] == "KENT-A2-001")
    [entry] = [v for v in local.config["demo"]["voi"] if v["voi_id"] == "demo-kent-stolen"]
    raised = datetime.now(UTC) - timedelta(minutes=2)
    read_id = f"t-{uuid.uuid4().hex[:8]}-left"
    alert = Alert.model_validate(
        {
            "alert_id": alert_id_for(kent["camera_id"], read_id, entry["voi_id"]),
            "read_id": read_id,
            "vrm": entry["vrm"],
            "captured_at": raised - timedelta(seconds=3),
            "camera_id": kent["camera_id"],
            "lea": kent["lea"],
            "voi_id": entry["voi_id"],
            "source": entry["source"],
            "category": entry["category"],
            "action": entry["action"],
            "priority": entry["priority"],
            "reason": entry["reason"],
            "owner_lea": entry["owner_lea"],
            "circulation": entry["circulation"],
            "sensitive": entry["sensitive"],
            "raised_at": raised,
        },
        strict=False,
    )
    DynamoAlertStore(local.client("dynamodb"), local.config["tables"]["alerts"]).put_new(alert)

    def published() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        return [json.loads(m["Body"]) for m in messages]

    [event] = wait_for(published, timeout_s=20)
    assert event["detail"]["alert_id"] == alert.alert_id
    assert event["detail"]["raised_at"] == iso_utc(raised)
    stored = local.client("dynamodb").get_item(
        TableName=local.config["tables"]["alerts"], Key=to_item({"alert_id": alert.alert_id})
    )["Item"]
    assert from_item(stored)["published"] is True
