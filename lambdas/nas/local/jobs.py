"""Local mode's daily jobs (R-ACCOUNT account hygiene, R-RET-367 retention check): the same Lambda
handlers their EventBridge schedules invoke in AWS, run on local mode's scheduler every few minutes
so a session sees them work. `nas jobs run` runs the same services on demand, optionally as of a
later day (`--days-ahead 91`), which the deployed handlers never accept."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from nas.local.poller import LocalLambdaContext
from nas.local.schedules import SCHEDULED_EVENT, ScheduledJob

JOB_INTERVAL_S = 300.0


def _invoke(module: str, function_name: str) -> Callable[[], Any]:
    def run() -> Any:
        import importlib

        handler = importlib.import_module(f"handlers.{module}")
        context = LocalLambdaContext(
            function_name=function_name,
            invoked_function_arn=f"local:{function_name}",
            aws_request_id=str(uuid.uuid4()),
        )
        return handler.lambda_handler(SCHEDULED_EVENT, context)

    return run


def account_hygiene(interval_s: float = JOB_INTERVAL_S) -> ScheduledJob:
    """The daily account job, every `interval_s` here, built afresh from this environment."""
    from handlers import account_hygiene as handler

    handler.ports.cache_clear()
    return ScheduledJob(
        "account-hygiene", _invoke("account_hygiene", "nas-local-account-hygiene"), interval_s
    )


def retention_check(interval_s: float = JOB_INTERVAL_S) -> ScheduledJob:
    """The daily retention check (R-RET-367), every `interval_s` here: a statement each time."""
    from handlers import retention as handler

    handler.ports.cache_clear()
    return ScheduledJob("retention-check", _invoke("retention", "nas-local-retention"), interval_s)
