"""Entry point of the VOI housekeeping function, invoked by EventBridge Scheduler with
`{"job": "reviews"}` daily (R-VOI-28 reminders to each owner LEA) and `{"job": "sweep"}` hourly
(R-VOI-56: what TTL has not removed yet). Local mode runs the same handler on timers."""

from __future__ import annotations

from dataclasses import asdict
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nas.observability import logger, tracer
from nas.services.voi import VoiService
from nas.services.wiring import build_voi_service
from nas.settings import settings

JOBS = ("reviews", "sweep")


@cache
def service() -> VoiService:
    return build_voi_service(settings(), reminders=True)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = event.get("job")
    if job == "reviews":
        reminders = service().remind()
        return {"job": job, "owners": [r.owner_lea for r in reminders]}
    if job == "sweep":
        return {"job": job, **asdict(service().sweep())}
    raise ValueError(f"unknown job {job!r}: one of {', '.join(JOBS)}")
