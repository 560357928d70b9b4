"""Builds the VOI services from settings and boto3 clients, for the api function and the VOI
functions (imports, TTL removals, daily jobs) alike: the one place their adapters meet clients.
boto3 honours AWS_ENDPOINT_URL, so local mode points the same wiring at moto."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from nas import catalogue
from nas.adapters.alerts import DynamoAlertStore
from nas.adapters.athena import AthenaSearchEngine
from nas.adapters.audit import DynamoAuditTrail
from nas.adapters.events import EventBridgePublisher
from nas.adapters.import_files import S3ImportFiles
from nas.adapters.retro_hunts import DynamoHuntStore, SqsHuntQueue
from nas.adapters.search import SearchEngine
from nas.adapters.search_results import S3ResultStore
from nas.adapters.step_functions import StepFunctionsOrchestrator
from nas.adapters.voi import DynamoVoiStore
from nas.adapters.voi_events import EventBridgeReminderPublisher
from nas.adapters.voi_lists import DynamoListStore
from nas.services.retro_hunts import WAIT_S, RetroHuntRequests, RetroHuntRunner
from nas.services.voi import VoiService
from nas.services.voi_imports import Orchestrator, VoiImportService
from nas.settings import RuntimeSettings

# Presigned URLs name the bucket's regional endpoint (`https://<bucket>.s3.eu-west-2.amazonaws.com`),
# the one origin the console's Content-Security-Policy allows for uploads (`nas.console.bucket_origin`).
# boto3's default names the global `<bucket>.s3.amazonaws.com`, which redirects for a bucket's first
# day; a browser's preflighted PUT cannot follow that. A custom endpoint (moto) keeps path style.
IMPORTS_S3_CONFIG = Config(s3={"addressing_style": "virtual"})


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_voi_service(
    config: RuntimeSettings,
    session: Any = boto3,
    *,
    clock: Callable[[], datetime] = utc_now,
    reminders: bool = False,
    retro_hunts: bool = False,
) -> VoiService:
    """`reminders`: the daily job publishes to the alerting bus; the API never does. `retro_hunts`:
    the API queues retro-hunts, where the retro-hunt queue is configured (else it refuses them)."""
    dynamodb = session.client("dynamodb")
    table = config.table(catalogue.VOI)
    publisher = None
    if reminders:
        publisher = EventBridgeReminderPublisher(
            session.client("events"), config.require(config.alert_bus, catalogue.ALERT_BUS_ENV)
        )
    hunts = None
    if retro_hunts and config.retro_hunt_queue:
        hunts = RetroHuntRequests(
            DynamoHuntStore(dynamodb, config.table(catalogue.RETRO_HUNTS)),
            SqsHuntQueue(session.client("sqs"), config.retro_hunt_queue),
            clock=clock,
        )
    return VoiService(
        DynamoVoiStore(dynamodb, table, clock=clock),
        DynamoListStore(dynamodb, table),
        clock=clock,
        reminders=publisher,
        retro_hunts=hunts,
    )


def build_retro_hunt_runner(
    config: RuntimeSettings,
    session: Any = boto3,
    *,
    clock: Callable[[], datetime] = utc_now,
    engine: SearchEngine | None = None,
    wait_s: float = WAIT_S,
) -> RetroHuntRunner:
    """The retro-hunt function's service; `engine` replaces the configured search engine (tests)."""
    dynamodb = session.client("dynamodb")
    return RetroHuntRunner(
        hunts=DynamoHuntStore(dynamodb, config.table(catalogue.RETRO_HUNTS)),
        voi=DynamoVoiStore(dynamodb, config.table(catalogue.VOI), clock=clock),
        engine=engine or search_engine(config, session),
        alerts=DynamoAlertStore(dynamodb, config.table(catalogue.ALERTS)),
        publisher=EventBridgePublisher(
            session.client("events"), config.require(config.alert_bus, catalogue.ALERT_BUS_ENV)
        ),
        audit=DynamoAuditTrail(dynamodb, config.table(catalogue.AUDIT)),
        clock=clock,
        wait_s=wait_s,
    )


def search_engine(config: RuntimeSettings, session: Any = boto3) -> SearchEngine:
    """Athena in AWS; DuckDB over the reads bucket in local mode (imported only there: duckdb is not
    in the Lambda layer)."""
    if config.search_engine == "duckdb":
        from nas.adapters.duckdb_search import DuckDbSearchEngine
        from nas.adapters.parquet_erasure import s3_filesystem

        return DuckDbSearchEngine(
            s3_filesystem(config.aws_endpoint, config.region),
            config.bucket(catalogue.Bucket.READS),
            results=S3ResultStore(
                session.client("s3"),
                config.bucket(catalogue.Bucket.ATHENA_RESULTS),
                f"{catalogue.ATHENA_OUTPUT_PREFIX}duckdb/",
            ),
        )
    return AthenaSearchEngine(
        session.client("athena"),
        workgroup=config.require(config.athena_workgroup, catalogue.ATHENA_WORKGROUP_ENV),
        database=config.require(config.glue_database, catalogue.GLUE_DATABASE_ENV),
    )


def build_import_service(
    config: RuntimeSettings,
    session: Any = boto3,
    *,
    clock: Callable[[], datetime] = utc_now,
    orchestrator: Orchestrator | None = None,
    start_loads: bool = False,
) -> VoiImportService:
    """`start_loads`: the upload function starts the state machine (unless `orchestrator`, local
    mode's runner, is given); the API and the step function start nothing."""
    if start_loads and orchestrator is None:
        orchestrator = StepFunctionsOrchestrator(
            session.client("stepfunctions"),
            config.require(config.voi_import_state_machine, catalogue.VOI_IMPORT_STATE_MACHINE_ENV),
        )
    return VoiImportService(
        DynamoListStore(session.client("dynamodb"), config.table(catalogue.VOI)),
        S3ImportFiles(
            session.client("s3", config=IMPORTS_S3_CONFIG), config.bucket(catalogue.Bucket.IMPORTS)
        ),
        clock=clock,
        orchestrator=orchestrator,
    )
