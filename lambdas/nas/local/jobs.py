"""Local mode's scheduled functions: the same Lambda handlers their EventBridge schedules invoke in
AWS (audit digests, publish sweeper, account hygiene, retention check, daily statistics), run on local mode's
scheduler at local intervals so a session sees them work. `nas jobs run` runs the daily jobs'
services on demand, optionally as of a later day (`--days-ahead 91`), which the deployed handlers
never accept."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nas.local.logs import logging_as, service_of
from nas.local.poller import LocalLambdaContext
from nas.local.schedules import SCHEDULED_EVENT, ScheduledJob

JOB_INTERVAL_S = 300.0
"""The daily jobs (account hygiene, retention check) every five minutes here."""
DIGEST_INTERVAL_S = 30.0
"""Audit digests every 30 s (5 minutes in AWS), so a local session sees its requests anchored."""


def invoke_scheduled(
    module: str, construct_id: str, event: Callable[[], dict[str, Any]] = lambda: dict(SCHEDULED_EVENT)
) -> Callable[[], Any]:
    """One run of `handlers.<module>` as its schedule invokes it (or with `event()`), its log lines
    named after the function CDK makes of it (`construct_id`)."""
    function_name = f"nas-local-{construct_id.lower()}"

    def run() -> Any:
        handler = importlib.import_module(f"handlers.{module}")
        context = LocalLambdaContext(
            function_name=function_name,
            invoked_function_arn=f"local:{function_name}",
            aws_request_id=str(uuid.uuid4()),
        )
        with logging_as(function_name=function_name, service=service_of(construct_id)):
            return handler.lambda_handler(event(), context)

    return run


def scheduled_function(
    name: str,
    module: str,
    construct_id: str,
    interval_s: float,
    *,
    run_on_stop: bool = False,
    event: Callable[[], dict[str, Any]] = lambda: dict(SCHEDULED_EVENT),
) -> ScheduledJob:
    """The job, its handler's adapters built afresh from this (local mode's) environment."""
    handler = importlib.import_module(f"handlers.{module}")
    for cached in ("ports", "service"):
        reset = getattr(getattr(handler, cached, None), "cache_clear", None)
        if reset is not None:
            reset()
    return ScheduledJob(
        name, invoke_scheduled(module, construct_id, event), interval_s, run_on_stop=run_on_stop
    )


def audit_digests(interval_s: float = DIGEST_INTERVAL_S) -> ScheduledJob:
    """R-AUDIT: and once more on stop, so the trail a session leaves is anchored to its last request."""
    return scheduled_function("audit-digests", "audit_digest", "AuditDigest", interval_s, run_on_stop=True)


def publish_sweeper(interval_s: float) -> ScheduledJob:
    """R-ALERT: alerts left unpublished for over a minute are published."""
    return scheduled_function("publish-sweeper", "publish_sweeper", "PublishSweeper", interval_s)


def account_hygiene(interval_s: float = JOB_INTERVAL_S) -> ScheduledJob:
    """R-ACCOUNT: the daily account job."""
    return scheduled_function("account-hygiene", "account_hygiene", "AccountHygiene", interval_s)


def retention_check(interval_s: float = JOB_INTERVAL_S) -> ScheduledJob:
    """R-RET-367: the daily retention check, a signed statement each run."""
    return scheduled_function("retention-check", "retention", "Retention", interval_s)


def daily_statistics(interval_s: float = JOB_INTERVAL_S) -> ScheduledJob:
    """R-STATS: today's statistics so far (AWS counts yesterday each morning), so a local session
    has a report of its own reads to fetch."""
    return scheduled_function(
        "daily-statistics",
        "statistics",
        "Statistics",
        interval_s,
        event=lambda: {"date": datetime.now(UTC).date().isoformat()},
    )
