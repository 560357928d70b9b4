"""R-STATS reports. `GET /reports/daily` (analysts, auditors): a UTC day's statistics as the daily job
counted them, JSON or CSV, with no personal data (codes only; counts under 5 as `<5`).
`GET /reports/usage` (auditors): searches, read views and refusals per user and LEA over up to 31
days, from the audit trail; names are shown, as auditors oversee users. An LEA's auditors see their
LEA's users; NATIONAL auditors every LEA's."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, NoReturn

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from nas.api import state
from nas.api.auth import requires
from nas.api.docs import responses
from nas.api.errors import BadRequest
from nas.api.wiring import services
from nas.domain import audit
from nas.domain.roles import Role
from nas.domain.statistics import MAX_USAGE_DAYS, SUPPRESSED, report_csv

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped

DATE: dict[str, Any] = {"json_schema_extra": {"format": "date"}, "max_length": 10}
CSV_TYPE = "text/csv; charset=utf-8"

Count = int | Literal["<5"]


class _Cell(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: Count


class LeaHourCell(_Cell):
    lea: str
    hour: str


class SourceCell(_Cell):
    source: str


class ReasonCell(_Cell):
    reason: str


class AlertCell(_Cell):
    lea: str
    source: str
    category: str


class OutcomeCell(_Cell):
    outcome: str


class SearchCell(_Cell):
    lea: str
    type: str
    purpose: str


class RuleCell(_Cell):
    rule: str


class LatencyView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alerts: Count
    p50: float | None
    p95: float | None
    p99: float | None


class DailyReportView(BaseModel):
    """R-STATS: one UTC day, codes only. `complete` is false for a day not yet over when counted."""

    model_config = ConfigDict(extra="forbid")

    format: str
    day: str
    generated_at: str
    complete: bool
    suppressed_below: int
    voi_entries_as_of: str
    reads_by_lea_hour: list[LeaHourCell]
    reads_by_source: list[SourceCell]
    quarantined_by_reason: list[ReasonCell]
    alerts: list[AlertCell]
    outcomes: list[OutcomeCell]
    searches: list[SearchCell]
    refusals: list[RuleCell]
    voi_entries_by_source: list[SourceCell]
    capture_to_alert_latency_s: LatencyView


class UserUsageView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str
    lea: str
    searches: int
    read_views: int
    rows_viewed: int
    refusals: dict[str, int]


class UsageView(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    users: list[UserUsageView]


def _day(field: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text) if len(text) == 10 else _bad_day(field)
    except ValueError:
        _bad_day(field)
    if not audit.in_range(day):
        raise BadRequest(field, f"must be a day in the years {audit.MIN_YEAR} to {audit.MAX_YEAR}")
    return day


def _bad_day(field: str) -> NoReturn:
    raise BadRequest(field, "must be a date YYYY-MM-DD")


def _daily_responses() -> dict[int, Any]:
    documented = responses("the day's statistics (JSON, or CSV with format=csv)", DailyReportView, 404)
    documented[200].setdefault("content", {})["text/csv"] = {"schema": {"type": "string"}}
    return documented


@router.get(
    "/reports/daily",
    summary="A UTC day's statistics without personal data (R-STATS): reads, quarantine, alerts,"
    f" outcomes, searches, refusals, VOI entries, latency; counts under 5 as {SUPPRESSED}",
    responses=_daily_responses(),
)
@requires(Role.ANALYST, Role.AUDITOR)
def daily_report(
    day: Annotated[
        str | None,
        Query(alias="date", description="the UTC day YYYY-MM-DD; default today (as last counted)", **DATE),
    ] = None,
    format_: Annotated[
        Literal["json", "csv"], Query(alias="format", description="json (default) or csv")
    ] = "json",
) -> Response[DailyReportView | str]:
    document = services().statistics.daily(state.principal(), _day("date", day))
    state.used(result_count=1, day=document.get("day"))
    if format_ == "csv":
        return Response(status_code=200, content_type=CSV_TYPE, body=report_csv(document))
    return Response(
        status_code=200, content_type="application/json", body=DailyReportView.model_validate(document)
    )


@router.get(
    "/reports/usage",
    summary="Searches, read views and refusals per user and LEA (R-STATS, R-AUDIT), for auditors",
    responses=responses("usage per user over the days asked for", UsageView),
)
@requires(Role.AUDITOR)
def usage_report(
    from_: Annotated[str, Query(alias="from", description="first UTC day YYYY-MM-DD", **DATE)],
    to: Annotated[
        str | None,
        Query(description=f"last UTC day YYYY-MM-DD (default `from`; at most {MAX_USAGE_DAYS} days)", **DATE),
    ] = None,
) -> UsageView:
    first = _day("from", from_)
    assert first is not None  # required by the route
    last = _day("to", to) or first
    users = services().statistics.usage(state.principal(), first, last)
    state.used(result_count=len(users))
    return UsageView(
        from_=first.isoformat(),
        to=last.isoformat(),
        users=[
            UserUsageView(
                user=u.user,
                lea=u.lea,
                searches=u.searches,
                read_views=u.read_views,
                rows_viewed=u.rows_viewed,
                refusals=dict(sorted(u.refusals.items())),
            )
            for u in users
        ],
    )
