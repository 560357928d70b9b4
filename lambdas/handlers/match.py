"""Entry point of the match Lambda (Kinesis `reads`, enhanced fan-out): VOI hits → alerts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from nas.observability import logger, metrics, tracer
from nas.pipeline.batch import partial_batch_response
from nas.pipeline.match import MatchResult, MatchService
from nas.pipeline.records import StreamRecord
from nas.pipeline.wiring import build_match_service
from nas.settings import settings

# Whoever wants each invocation's result besides the metrics (local mode's status line); empty in Lambda.
RESULT_OBSERVERS: list[Callable[[MatchResult], None]] = []


@cache
def service() -> MatchService:
    return build_match_service(settings())


def record_metrics(result: MatchResult) -> None:
    metrics.add_metric("ReadsReceived", MetricUnit.Count, result.received)
    metrics.add_metric("ReadsSkippedInvalid", MetricUnit.Count, sum(result.skipped_invalid.values()))
    metrics.add_metric("ReadsLate", MetricUnit.Count, result.late)
    metrics.add_metric("VoiHits", MetricUnit.Count, result.hits)
    metrics.add_metric("AlertsRaised", MetricUnit.Count, len(result.alerts_raised))
    metrics.add_metric("AlertsDuplicate", MetricUnit.Count, result.duplicates)
    metrics.add_metric("AlertsUnmarked", MetricUnit.Count, result.unmarked)
    for seconds in result.capture_to_alert_seconds():
        metrics.add_metric("CaptureToAlertLatency", MetricUnit.Seconds, seconds)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    records = [StreamRecord.from_lambda_event(r) for r in event["Records"]]
    result = service().process(records, now=datetime.now(UTC))
    record_metrics(result)
    for observe in RESULT_OBSERVERS:
        observe(result)
    if result.skipped_invalid:
        logger.info(
            "reads skipped as invalid (archive quarantines them)", extra={"reasons": result.skipped_invalid}
        )
    return partial_batch_response(event, result.failed_sequence_numbers, context)
