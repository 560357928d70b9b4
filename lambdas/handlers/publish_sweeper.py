"""Entry point of the publish sweeper (an EventBridge schedule, every minute): alerts stored but
still unpublished a minute after they were raised are published as stored (R-ALERT)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from nas.observability import logger, metrics, tracer
from nas.pipeline.sweeper import PublishSweeper
from nas.pipeline.wiring import build_publish_sweeper
from nas.settings import settings


@cache
def service() -> PublishSweeper:
    return build_publish_sweeper(settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    result = service().sweep(now=datetime.now(UTC))
    metrics.add_metric("AlertsRepublished", MetricUnit.Count, len(result.published))
    metrics.add_metric("AlertsRepublishFailed", MetricUnit.Count, len(result.failed))
    if result.found:
        logger.warning(
            "published alerts left unpublished",
            extra={
                "alert_ids": result.published,
                "failed": sorted(result.failed),
                "unmarked": sorted(result.unmarked),
            },
        )
    return {"found": result.found, "published": len(result.published), "failed": len(result.failed)}
