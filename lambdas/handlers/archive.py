"""Entry point of the archive Lambda (Kinesis `reads`): packed images, Parquet rows, quarantine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from nas.observability import logger, metrics, tracer
from nas.pipeline.archive import ArchiveResult, ArchiveService
from nas.pipeline.batch import partial_batch_response
from nas.pipeline.records import StreamRecord
from nas.pipeline.wiring import build_archive_service
from nas.settings import settings

# Whoever wants each invocation's result besides the metrics (local mode's status line); empty in Lambda.
RESULT_OBSERVERS: list[Callable[[ArchiveResult], None]] = []


@cache
def service() -> ArchiveService:
    return build_archive_service(settings())


def record_metrics(result: ArchiveResult) -> None:
    metrics.add_metric("ReadsReceived", MetricUnit.Count, result.received)
    metrics.add_metric("ReadsArchived", MetricUnit.Count, result.archived)
    metrics.add_metric("ReadsQuarantined", MetricUnit.Count, sum(result.quarantined.values()))
    metrics.add_metric("ImagesPacked", MetricUnit.Count, result.images_packed)
    metrics.add_metric("ImagePackBytes", MetricUnit.Bytes, result.pack_bytes)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    records = [StreamRecord.from_lambda_event(r) for r in event["Records"]]
    result = service().process(records, now=datetime.now(UTC))
    record_metrics(result)
    for observe in RESULT_OBSERVERS:
        observe(result)
    if result.quarantined:
        logger.warning("records quarantined", extra={"reasons": result.quarantined})
    return partial_batch_response(event, result.failed_sequence_numbers, context)
