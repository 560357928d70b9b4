"""Entry point of the audit digest Lambda (EventBridge schedules: every 5 minutes, and just after
each UTC day ends): signs a digest of every audit chain's new records into the Object Lock evidence
bucket, and closes the chains of a day that has ended (R-AUDIT)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from nas.jobs.wiring import build_digest_ports
from nas.observability import logger, metrics, tracer
from nas.services.audit_digests import DigestPorts, write_digests
from nas.settings import settings

STOP_MARGIN_MS = 30_000
"""Time kept back from the function's timeout: the digest being signed and written finishes, the
rest of the chains wait for the next run."""


@cache
def ports() -> DigestPorts:
    return build_digest_ports(settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    run = write_digests(
        ports(),
        now=datetime.now(UTC),
        writer=context.invoked_function_arn,
        should_stop=lambda: context.get_remaining_time_in_millis() < STOP_MARGIN_MS,
    )
    metrics.add_metric("AuditDigestsWritten", MetricUnit.Count, len(run.written))
    metrics.add_metric("AuditRecordsDigested", MetricUnit.Count, run.records)
    metrics.add_metric("AuditChainBreaks", MetricUnit.Count, len(run.breaks))
    metrics.add_metric("AuditChainsBlocked", MetricUnit.Count, len(run.blocked))
    report = run.as_dict()
    if run.breaks or run.blocked:
        # Someone changed the trail, or wrote where only this job may: an operator must look.
        logger.error("audit chains need attention", extra={"digest_run": report})
    return report
