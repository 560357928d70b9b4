"""Entry point of the retention check Lambda (EventBridge schedule, daily): deletes what S3 lifecycle
missed past 367 days under every retained prefix, writes a signed retention statement into the
evidence bucket, and publishes `OldestReadAgeDays`, alarmed above 367 (R-RET-367). The schedule's
event is ignored: the check always judges as of now."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from nas.jobs.wiring import build_retention_ports
from nas.observability import logger, metrics, tracer
from nas.services.retention import RetentionPorts, run_retention_check
from nas.settings import settings

OLDEST_READ_AGE_METRIC = "OldestReadAgeDays"


@cache
def ports() -> RetentionPorts:
    return build_retention_ports(settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    now = datetime.now(UTC)
    run = run_retention_check(
        ports(), now=now, written_at=now, writer=context.invoked_function_arn, run_id=context.aws_request_id
    )
    statement = run.statement
    # Nothing held at all is nothing too old: age 0.
    metrics.add_metric(OLDEST_READ_AGE_METRIC, MetricUnit.NoUnit, statement.oldest_age_days or 0.0)
    metrics.add_metric(
        "RetentionVersionsDeleted", MetricUnit.Count, sum(p.deleted_versions for p in statement.prefixes)
    )
    metrics.add_metric(
        "RetentionDeleteFailures", MetricUnit.Count, sum(p.delete_failures for p in statement.prefixes)
    )
    report = run.as_dict()
    if not statement.within_retention:
        logger.error("reads older than 367 days are still held", extra={"retention_run": report})
    return report
