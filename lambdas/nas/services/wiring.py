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
from nas.adapters.import_files import S3ImportFiles
from nas.adapters.step_functions import StepFunctionsOrchestrator
from nas.adapters.voi import DynamoVoiStore
from nas.adapters.voi_events import EventBridgeReminderPublisher
from nas.adapters.voi_lists import DynamoListStore
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
) -> VoiService:
    """`reminders`: the daily job publishes to the alerting bus; the API never does."""
    dynamodb = session.client("dynamodb")
    table = config.table(catalogue.VOI)
    publisher = None
    if reminders:
        publisher = EventBridgeReminderPublisher(
            session.client("events"), config.require(config.alert_bus, catalogue.ALERT_BUS_ENV)
        )
    return VoiService(
        DynamoVoiStore(dynamodb, table, clock=clock),
        DynamoListStore(dynamodb, table),
        clock=clock,
        reminders=publisher,
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
