"""Builds the consumers from settings and boto3 clients: the one place adapters meet their AWS
clients. boto3 honours AWS_ENDPOINT_URL, so local mode points the same wiring at moto."""

from __future__ import annotations

from typing import Any

import boto3

from nas import catalogue
from nas.adapters.alerts import DynamoAlertStore
from nas.adapters.cameras import DynamoCameraRegistry
from nas.adapters.events import EventBridgePublisher
from nas.adapters.firehose import FirehoseRowSink, RowSink
from nas.adapters.objects import S3ObjectStore
from nas.adapters.voi import DynamoVoiStore
from nas.pipeline.archive import ArchiveService
from nas.pipeline.match import MatchService
from nas.settings import RuntimeSettings


def build_match_service(settings: RuntimeSettings, session: Any = boto3) -> MatchService:
    dynamodb = session.client("dynamodb")
    return MatchService(
        cameras=DynamoCameraRegistry(dynamodb, settings.table(catalogue.CAMERAS)),
        voi=DynamoVoiStore(dynamodb, settings.table(catalogue.VOI)),
        alerts=DynamoAlertStore(dynamodb, settings.table(catalogue.ALERTS)),
        publisher=EventBridgePublisher(
            session.client("events"), settings.require(settings.alert_bus, catalogue.ALERT_BUS_ENV)
        ),
    )


def build_archive_service(
    settings: RuntimeSettings, session: Any = boto3, *, rows: RowSink | None = None
) -> ArchiveService:
    """`rows` replaces the Firehose sink (local mode writes the Parquet itself)."""
    return ArchiveService(
        cameras=DynamoCameraRegistry(session.client("dynamodb"), settings.table(catalogue.CAMERAS)),
        objects=S3ObjectStore(session.client("s3")),
        rows=rows
        or FirehoseRowSink(
            session.client("firehose"),
            settings.require(settings.read_rows_delivery, catalogue.READ_ROWS_DELIVERY_ENV),
        ),
        reads_bucket=settings.bucket(catalogue.Bucket.READS),
        quarantine_bucket=settings.bucket(catalogue.Bucket.QUARANTINE),
    )
