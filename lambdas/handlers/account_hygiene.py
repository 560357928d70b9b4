"""Entry point of the account hygiene Lambda (EventBridge schedule, daily): suspends accounts not
used for 90 days and lists them, and role changes, for review (R-ACCOUNT). The schedule's event is
ignored: the job always judges as of now (no caller can run it "as of" another day in AWS)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from nas.jobs.wiring import build_hygiene_ports
from nas.observability import logger, metrics, tracer
from nas.services.account_hygiene import HygienePorts, run_hygiene
from nas.settings import settings


@cache
def ports() -> HygienePorts:
    return build_hygiene_ports(settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    run = run_hygiene(ports(), now=datetime.now(UTC), run_id=context.aws_request_id)
    metrics.add_metric("AccountsChecked", MetricUnit.Count, run.checked)
    metrics.add_metric("AccountsSuspended", MetricUnit.Count, len(run.suspended))
    metrics.add_metric(
        "AccountReviewsOpened", MetricUnit.Count, len(run.idle_reviews) + len(run.role_change_reviews)
    )
    metrics.add_metric("AccountSuspensionsFailed", MetricUnit.Count, len(run.failed))
    report = run.as_dict()
    if run.failed:
        logger.error("accounts could not be suspended", extra={"hygiene_run": report})
    return report
