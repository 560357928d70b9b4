"""Bulk lists for tests: a CSV in the import format, and an import run to completion in-process
with the real import service on moto (the steps in the state machine's order)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws

from nas import catalogue
from nas.adapters.dynamo import create_table, from_item
from nas.adapters.import_files import S3ImportFiles, incoming_key
from nas.adapters.voi import DynamoVoiStore
from nas.adapters.voi_events import EventBridgeReminderPublisher
from nas.adapters.voi_lists import DynamoListStore
from nas.domain.leas import NATIONAL
from nas.domain.roles import Principal, Role
from nas.domain.voi_imports import ImportRecord
from nas.domain.voi_lists import LIST_COLUMNS, ListSource
from nas.local.voi import run_load
from nas.services.voi import VoiService
from nas.services.voi_imports import VoiImportService

HEADER = ",".join(LIST_COLUMNS)
NATIONAL_MANAGER = Principal.from_claims("vm.national", [Role.VOI_MANAGER.value], NATIONAL)


@dataclass(frozen=True, slots=True)
class Row:
    vrm: str
    category: str = "no-tax"
    action: str = "report"
    priority: int = 3
    reason: str = "Untaxed vehicle"
    pnc_ref: str = ""
    circulation: str = "NATIONAL"
    sensitive: str = "false"

    def line(self) -> str:
        return ",".join(
            [
                self.vrm,
                self.category,
                self.action,
                str(self.priority),
                self.reason,
                self.pnc_ref,
                self.circulation,
                self.sensitive,
            ]
        )


def list_file(rows: Iterable[Row | str], *, header: str = HEADER) -> bytes:
    """A list file: `Row`s, or lines given as text (to write bad ones)."""
    lines = [header, *(r.line() if isinstance(r, Row) else r for r in rows)]
    return ("\n".join(lines) + "\n").encode()


@dataclass
class Lists:
    """Imports against one moto account's voi table and imports bucket."""

    dynamodb: Any
    s3: Any
    table: str
    bucket: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    chunk_bytes: int | None = None

    def service(self) -> VoiImportService:
        extra = {"chunk_bytes": self.chunk_bytes} if self.chunk_bytes else {}
        return VoiImportService(
            DynamoListStore(self.dynamodb, self.table, sleep=lambda _: None),
            S3ImportFiles(self.s3, self.bucket),
            clock=self.clock,
            **extra,
        )

    def upload(
        self, source: ListSource, body: bytes, *, rows_expected: int | None = None
    ) -> tuple[VoiImportService, ImportRecord]:
        """Requests an import and puts its file; nothing loads yet."""
        service = self.service()
        if isinstance(self.clock, Clock):
            # Imports are ordered by request time: a test's requests follow one another too.
            self.clock.advance(milliseconds=1)
        expected = rows_expected if rows_expected is not None else max(1, count_rows(body))
        record, _ = service.request(NATIONAL_MANAGER, source, f"{source.value}.csv", expected)
        self.s3.put_object(Bucket=self.bucket, Key=incoming_key(record.import_id), Body=body)
        return service, record

    def load(self, source: ListSource, body: bytes, *, rows_expected: int | None = None) -> ImportRecord:
        """Requests, uploads and loads a list to its end (clean-up included)."""
        service, record = self.upload(source, body, rows_expected=rows_expected)
        plan = service.upload_arrived(incoming_key(record.import_id))
        if plan is not None:
            run_load(service.run_step, plan)
            service.clean_up(record.import_id)
        final = service.status(NATIONAL_MANAGER, record.import_id).record
        return final

    def rows(self, source: ListSource, rows: Sequence[Row]) -> ImportRecord:
        return self.load(source, list_file(rows))


def count_rows(body: bytes) -> int:
    return sum(1 for line in body.split(b"\n")[1:] if line.strip())


REGION = "eu-west-2"
VOI_TABLE = "nas-test-voi"
IMPORTS_BUCKET = "nas-test-imports"
BUS = "nas-test-alerts"


class Clock:
    """The service clock of a test: set, and moved forward."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Monotonic:
    """The match path's cache clock: moved forward by hand."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


@dataclass
class VoiAccount:
    """A moto account with the voi table, the imports bucket and the alert bus (its VOI events
    captured in a queue), and the VOI services on a test clock."""

    dynamodb: Any
    s3: Any
    sqs: Any
    queue_url: str
    clock: Clock
    monotonic: Monotonic = field(default_factory=Monotonic)

    @property
    def lists(self) -> Lists:
        return Lists(self.dynamodb, self.s3, VOI_TABLE, IMPORTS_BUCKET, clock=self.clock)

    def store(self) -> DynamoVoiStore:
        """The voi adapter as the match path holds it: its cache moves with `monotonic`."""
        return DynamoVoiStore(
            self.dynamodb, VOI_TABLE, sleep=lambda _: None, clock=self.clock, monotonic=self.monotonic
        )

    def service(self) -> VoiService:
        return VoiService(
            self.store(),
            DynamoListStore(self.dynamodb, VOI_TABLE, sleep=lambda _: None),
            clock=self.clock,
            reminders=EventBridgeReminderPublisher(boto3.client("events", region_name=REGION), BUS),
        )

    def items(self) -> list[dict[str, Any]]:
        return [from_item(i) for i in self.dynamodb.scan(TableName=VOI_TABLE)["Items"]]

    def objects(self, prefix: str = "") -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=IMPORTS_BUCKET, Prefix=prefix).get("Contents", [])
        return [o["Key"] for o in listed]

    def published(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            events += [json.loads(m["Body"]) for m in batch]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
        return events


@contextmanager
def voi_account(now: datetime | None = None) -> Iterator[VoiAccount]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table(dynamodb, catalogue.VOI, VOI_TABLE)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=IMPORTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        queue = sqs.create_queue(QueueName="voi-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name="voi-events",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": [catalogue.VOI_EVENT_SOURCE]}),
        )
        events.put_targets(Rule="voi-events", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
        yield VoiAccount(dynamodb, s3, sqs, queue, Clock(now or datetime.now(UTC)))
