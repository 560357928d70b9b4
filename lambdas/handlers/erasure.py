"""Entry point of the erasure Lambda (R-SAR; SQS, one message per granted erasure): carries out the
erasure the api queued and records its counts on the request. A failed message is retried; its last
attempt (catalogue.ERASURE_MAX_RECEIVES) marks the request failed before the message goes to the
dead-letter queue, whose alarm calls an operator. Runs with the pyarrow layer beside the runtime's."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from nas import catalogue
from nas.adapters.erasure_queue import request_id_of
from nas.jobs.wiring import build_erasure_work
from nas.observability import logger, metrics, tracer
from nas.services.subject_requests import ErasureWork
from nas.settings import settings


@cache
def work() -> ErasureWork:
    return build_erasure_work(settings())


def handle(event: dict[str, Any], erasures: ErasureWork) -> dict[str, list[dict[str, str]]]:
    """Each message's erasure; the messages that failed are reported (batch item failures), so SQS
    retries them alone."""
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        last = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1")) >= (
            catalogue.ERASURE_MAX_RECEIVES
        )
        try:
            request = erasures.carry_out(request_id_of(record["body"]), last_attempt=last)
        except Exception:
            logger.exception(
                "erasure failed", extra={"message_id": record["messageId"], "last_attempt": last}
            )
            metrics.add_metric("ErasuresFailed", MetricUnit.Count, 1)
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        counts = request.outcome.get("erasure") or {}
        logger.info("erasure done", extra={"request_id": request.request_id, "counts": counts})
        metrics.add_metric("ErasuresDone", MetricUnit.Count, 1)
    return {"batchItemFailures": failures}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    return handle(event, work())
