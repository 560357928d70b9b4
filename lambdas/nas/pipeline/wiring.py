"""Builds the consumers from settings and boto3 clients: the one place adapters meet their AWS
clients. boto3 honours AWS_ENDPOINT_URL, so local mode points the same wiring at moto; tests pass a
client factory of their own (fault injection) instead.

Every client has explicit timeouts and the standard retry mode (botocore's defaults are a 60 s read
timeout and the legacy mode). Match works inside R-ALERT's two seconds: a call that has not answered
in 2 s is better retried at once (standard mode retries throttling and transient errors with
jittered backoff, 3 attempts in all) than waited on for a minute inside a 30 s function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from nas import catalogue
from nas.adapters.alerts import DynamoAlertStore
from nas.adapters.cameras import DynamoCameraRegistry
from nas.adapters.events import EventBridgePublisher
from nas.adapters.firehose import FirehoseRowSink, RowSink
from nas.adapters.objects import S3ObjectStore
from nas.adapters.voi import DynamoVoiStore
from nas.pipeline.archive import ArchiveService
from nas.pipeline.match import MatchService
from nas.pipeline.sweeper import PublishSweeper
from nas.settings import RuntimeSettings

ClientFactory = Callable[[str, Config], Any]
"""(service name, botocore config) -> a client; boto3's by default."""

# The alert path: about 1 s to connect, 2 s to answer, 3 attempts in all.
MATCH_CLIENTS = Config(
    connect_timeout=1,
    read_timeout=2,
    retries={"mode": "standard", "total_max_attempts": 3},
    tcp_keepalive=True,
)
# The storage path: a few MB to S3 in one PUT may take longer; more attempts, since nothing waits on it.
ARCHIVE_CLIENTS = Config(
    connect_timeout=2,
    read_timeout=20,
    retries={"mode": "standard", "total_max_attempts": 5},
    tcp_keepalive=True,
)


def boto3_clients(session: Any = boto3) -> ClientFactory:
    def client(service: str, config: Config) -> Any:
        return session.client(service, config=config)

    return client


def build_match_service(settings: RuntimeSettings, clients: ClientFactory | None = None) -> MatchService:
    client = clients or boto3_clients()
    dynamodb = client("dynamodb", MATCH_CLIENTS)
    return MatchService(
        cameras=DynamoCameraRegistry(dynamodb, settings.table(catalogue.CAMERAS)),
        voi=DynamoVoiStore(dynamodb, settings.table(catalogue.VOI)),
        alerts=DynamoAlertStore(dynamodb, settings.table(catalogue.ALERTS)),
        publisher=EventBridgePublisher(
            client("events", MATCH_CLIENTS), settings.require(settings.alert_bus, catalogue.ALERT_BUS_ENV)
        ),
    )


def build_publish_sweeper(settings: RuntimeSettings, clients: ClientFactory | None = None) -> PublishSweeper:
    """The sweeper publishes as match does, with match's clients."""
    client = clients or boto3_clients()
    return PublishSweeper(
        alerts=DynamoAlertStore(client("dynamodb", MATCH_CLIENTS), settings.table(catalogue.ALERTS)),
        publisher=EventBridgePublisher(
            client("events", MATCH_CLIENTS), settings.require(settings.alert_bus, catalogue.ALERT_BUS_ENV)
        ),
    )


def build_archive_service(
    settings: RuntimeSettings, clients: ClientFactory | None = None, *, rows: RowSink | None = None
) -> ArchiveService:
    """`rows` replaces the Firehose sink (local mode writes the Parquet itself)."""
    client = clients or boto3_clients()
    return ArchiveService(
        cameras=DynamoCameraRegistry(client("dynamodb", ARCHIVE_CLIENTS), settings.table(catalogue.CAMERAS)),
        objects=S3ObjectStore(client("s3", ARCHIVE_CLIENTS)),
        rows=rows
        or FirehoseRowSink(
            client("firehose", ARCHIVE_CLIENTS),
            settings.require(settings.read_rows_delivery, catalogue.READ_ROWS_DELIVERY_ENV),
        ),
        reads_bucket=settings.bucket(catalogue.Bucket.READS),
        quarantine_bucket=settings.bucket(catalogue.Bucket.QUARANTINE),
    )
