"""Entry point of the daily statistics job (EventBridge schedule, each morning): counts yesterday
(UTC) without personal data and stores its document in the evidence bucket (R-STATS). Invoked with
`{"date": "YYYY-MM-DD"}` it counts that day instead (today so far included), for a day to be counted
again after late reads arrived or a fault was fixed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nas.domain.errors import InvalidInput
from nas.jobs.wiring import build_statistics_ports
from nas.observability import logger, metrics, tracer
from nas.services.statistics import StatisticsPorts, default_day, run_daily_statistics
from nas.settings import settings


@cache
def ports() -> StatisticsPorts:
    return build_statistics_ports(settings())


def day_of(event: dict[str, Any], now: datetime) -> date:
    """The day the event asks for, else yesterday. A scheduled event carries no `date`."""
    asked = event.get("date") if isinstance(event, dict) else None
    if asked is None:
        return default_day(now)
    try:
        if isinstance(asked, str) and len(asked) == 10:
            return date.fromisoformat(asked)
    except ValueError:
        pass
    raise InvalidInput("date", "must be a date YYYY-MM-DD")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    now = datetime.now(UTC)
    run = run_daily_statistics(ports(), day=day_of(event, now), now=now, run_id=context.aws_request_id)
    return run.as_dict()
