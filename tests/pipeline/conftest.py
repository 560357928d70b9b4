"""A moto account holding what the two consumers use (tables, buckets, bus, Firehose), with the
environment variables CDK would set, and builders for cameras, VOI entries and reads."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nas import catalogue
from nas.adapters.dynamo import create_table, from_item
from nas.adapters.voi import DynamoVoiStore
from nas.domain.models import Camera, CameraSource, VoiEntry
from nas.domain.policy import voi_expires_at, voi_review_due_at
from nas.settings import settings
from tests.voi_support import Lists

REGION = "eu-west-2"
NAMES = {
    catalogue.VOI: "nas-test-voi",
    catalogue.CAMERAS: "nas-test-cameras",
    catalogue.ALERTS: "nas-test-alerts",
}
READS_BUCKET = "nas-test-reads"
QUARANTINE_BUCKET = "nas-test-quarantine"
IMPORTS_BUCKET = "nas-test-imports"
BUS = "nas-test-alerts"
DELIVERY = "nas-test-read-rows"
JPEG = b"\xff\xd8\xff\xe0"

CAMERAS = (
    Camera(camera_id="KENT-0001", lea="KENT", lat=51.27, lon=1.08, source=CameraSource.STATIC, active=True),
    Camera(camera_id="KENT-MOB-01", lea="KENT", lat=51.3, lon=0.5, source=CameraSource.MOBILE, active=True),
    Camera(camera_id="ESSEX-0001", lea="ESSEX", lat=51.73, lon=0.47, source=CameraSource.STATIC, active=True),
    Camera(camera_id="KENT-OLD-9", lea="KENT", lat=51.1, lon=1.3, source=CameraSource.STATIC, active=False),
)


def image(size: int, fill: int) -> bytes:
    return JPEG + bytes([fill]) * (size - len(JPEG) - 2) + b"\xff\xd9"


def read_payload(
    camera: Camera | str = CAMERAS[0],
    *,
    read_id: str = "r-1",
    vrm: str = "AB12CDE",
    captured_at: datetime | None = None,
    plate: bytes | None = None,
    overview: bytes | None = None,
    **fields: Any,
) -> tuple[str, bytes]:
    """(partition key, record bytes) of a read from `camera`, captured a minute ago unless given."""
    cam = camera if isinstance(camera, Camera) else next(c for c in CAMERAS if c.camera_id == camera)
    record: dict[str, Any] = {
        "schema": "nas.read.v1",
        "read_id": read_id,
        "vrm": vrm,
        "captured_at": (captured_at or datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "camera_id": cam.camera_id,
        "lea": cam.lea,
        "source": cam.source.value,
    }
    if cam.source is CameraSource.MOBILE:
        record["location"] = {"lat": cam.lat + 0.01, "lon": cam.lon - 0.01}
    if plate is not None:
        record["plate_image"] = base64.b64encode(plate).decode()
    if overview is not None:
        record["overview_image"] = base64.b64encode(overview).decode()
    record.update(fields)
    return cam.camera_id, json.dumps(record).encode()


def voi_entry(
    vrm: str = "AB12CDE",
    *,
    voi_id: str = "voi-1",
    source: str = "pnc",
    circulation: tuple[str, ...] = ("NATIONAL",),
    owner_lea: str = "KENT",
    revised: datetime | None = None,
    sensitive: bool = False,
) -> VoiEntry:
    revised = revised or datetime.now(UTC) - timedelta(days=1)
    return VoiEntry.model_validate_json(
        json.dumps(
            {
                "voi_id": voi_id,
                "vrm": vrm,
                "source": source,
                "category": "stolen",
                "action": "stop",
                "priority": 1,
                "reason": "Stolen vehicle, PNC ref on file",
                "circulation": list(circulation),
                "owner_lea": owner_lea,
                "sensitive": sensitive,
                "created_by": "vm.kent",
                "created_at": revised.isoformat(),
                "last_revised_at": revised.isoformat(),
                "review_due_at": voi_review_due_at(revised).isoformat(),
                "expires_at": voi_expires_at(revised).isoformat(),
            }
        )
    )


@dataclass
class PipelineAccount:
    dynamodb: Any
    s3: Any
    sqs: Any
    events_queue: str

    @property
    def voi(self) -> DynamoVoiStore:
        return DynamoVoiStore(self.dynamodb, NAMES[catalogue.VOI])

    @property
    def lists(self) -> Lists:
        """Bulk lists loaded with the import service (R-VOI-BULK, R-WHITE)."""
        return Lists(self.dynamodb, self.s3, NAMES[catalogue.VOI], IMPORTS_BUCKET)

    def put_voi(self, entry: VoiEntry, *, at: datetime | None = None) -> None:
        self.voi.put(entry, now=at or entry.last_revised_at)

    def alerts(self) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=NAMES[catalogue.ALERTS])["Items"]
        return [from_item(i) for i in items]

    def events(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(QueueUrl=self.events_queue, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            messages += [json.loads(m["Body"]) for m in batch]
            self.sqs.delete_message_batch(
                QueueUrl=self.events_queue,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
        return messages

    def objects(self, bucket: str, prefix: str) -> dict[str, bytes]:
        listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return {o["Key"]: self.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}

    def firehose_rows(self) -> list[dict[str, Any]]:
        """What Firehose received, as delivered to S3 by moto (JSON lines; Parquet happens in AWS)."""
        return [
            json.loads(line)
            for body in self.objects(READS_BUCKET, "rows/").values()
            for line in body.decode().splitlines()
            if line
        ]


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[PipelineAccount]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        catalogue.STAGE_ENV: "test",
        catalogue.ALERT_BUS_ENV: BUS,
        catalogue.READ_ROWS_DELIVERY_ENV: DELIVERY,
        catalogue.Bucket.READS.env_var: READS_BUCKET,
        catalogue.Bucket.QUARANTINE.env_var: QUARANTINE_BUCKET,
        catalogue.Bucket.IMPORTS.env_var: IMPORTS_BUCKET,
        **{spec.env_var: name for spec, name in NAMES.items()},
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for spec, name in NAMES.items():
            create_table(dynamodb, spec, name)
        from nas.adapters.cameras import DynamoCameraRegistry

        DynamoCameraRegistry(dynamodb, NAMES[catalogue.CAMERAS]).put_many(CAMERAS)
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (READS_BUCKET, QUARANTINE_BUCKET, IMPORTS_BUCKET):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        boto3.client("firehose", region_name=REGION).create_delivery_stream(
            DeliveryStreamName=DELIVERY,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": f"arn:aws:s3:::{READS_BUCKET}",
                "Prefix": "rows/",
            },
        )
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        queue = sqs.create_queue(QueueName="alert-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="all-alerts",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": [catalogue.ALERT_EVENT_SOURCE]}),
        )
        events.put_targets(Rule="all-alerts", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}])

        settings.cache_clear()
        from handlers import archive, match

        match.service.cache_clear()
        archive.service.cache_clear()
        yield PipelineAccount(dynamodb=dynamodb, s3=s3, sqs=sqs, events_queue=queue)
        match.service.cache_clear()
        archive.service.cache_clear()
        settings.cache_clear()


@pytest.fixture
def lambda_context() -> Any:
    from tests.handlers.events import FakeLambdaContext

    return FakeLambdaContext()


os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
