"""`GET /alerts` and `POST /alerts/{alert_id}/outcome` for operators (R-ALERT, R-HIT, R-CIRC).

Listing order: newest first by `raised_at` (then `alert_id`), since a control room works from the
latest hit; `next_page_token` continues towards `since`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict, Field

from nas.adapters.alerts import BY_OWNER_LEA, BY_RAISED_DAY, BY_READ_LEA, OutcomeConflict
from nas.api import alert_rules, state
from nas.api.auth import requires
from nas.api.docs import ERRORS, ok
from nas.api.errors import BadRequest, Conflict, NotFound
from nas.api.params import decode_token, encode_token, parse_instant, parse_limit
from nas.api.wiring import services
from nas.domain import audit
from nas.domain.leas import NATIONAL
from nas.domain.models import Outcome
from nas.domain.roles import Principal, Role
from nas.domain.timefmt import iso_utc, utc_date

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped

DEFAULT_SINCE = timedelta(hours=24)
MAX_SINCE = timedelta(days=31)
OUTCOME_ATTEMPTS = 5
MAX_ALERT_ID_CHARS = 128


class AlertView(BaseModel):
    alert_id: str
    read_id: str
    vrm: str
    captured_at: str
    camera_id: str
    lea: str
    voi_id: str
    source: str
    category: str
    action: str
    priority: int
    raised_at: str
    outcome: Outcome | None


class AlertsPage(BaseModel):
    alerts: list[AlertView]
    next_page_token: str | None


class OutcomeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    note: Annotated[str, Field(max_length=1000)] = ""


class OutcomeHistoryEntry(BaseModel):
    outcome: Outcome
    note: str
    recorded_by: str | None
    recorded_at: str | None
    replaced_by: str
    replaced_at: str


class OutcomeView(AlertView):
    note: str
    recorded_by: str | None
    recorded_at: str | None
    outcome_history: list[OutcomeHistoryEntry]


def _principal() -> Principal:
    principal = state.current().principal
    assert principal is not None  # the route middleware has authorised an operator
    return principal


def _cursor(token: str | None) -> tuple[str, str] | None:
    value = decode_token(token)
    if value is None:
        return None
    raised_at, alert_id = value.get("raised_at"), value.get("alert_id")
    if (
        set(value) != {"raised_at", "alert_id"}
        or not isinstance(raised_at, str)
        or not isinstance(alert_id, str)
        or not 0 < len(alert_id) <= MAX_ALERT_ID_CHARS
    ):
        raise BadRequest("page_token", "is not a page token of this API")
    try:
        instant = parse_instant("page_token", raised_at)
    except BadRequest:
        raise BadRequest("page_token", "is not a page token of this API") from None
    if instant is None or iso_utc(instant) != raised_at:  # tokens carry stored (canonical) instants
        raise BadRequest("page_token", "is not a page token of this API")
    return raised_at, alert_id


@router.get(
    "/alerts",
    summary="Alerts visible to the operator's LEA (R-ALERT, R-CIRC), newest first",
    responses={200: ok("a page of alerts", AlertsPage), **ERRORS},
)
@requires(Role.OPERATOR)
def list_alerts(
    since: Annotated[str | None, Query(description="RFC 3339; default 24 hours ago, at most 31 days")] = None,
    limit: Annotated[str | None, Query(description="1..100, default 50")] = None,
    page_token: Annotated[str | None, Query(description="next_page_token of the previous page")] = None,
) -> dict[str, Any]:
    principal = _principal()
    now = datetime.now(UTC)
    since_at = parse_instant("since", since) or now - DEFAULT_SINCE
    if since_at < now - MAX_SINCE:
        raise BadRequest("since", "may reach back at most 31 days")
    if since_at > now:
        raise BadRequest("since", "must not be in the future")
    page_size = parse_limit(limit)
    cursor = _cursor(page_token)
    lower = iso_utc(since_at)
    upper = cursor[0] if cursor else iso_utc(now + timedelta(days=1))
    if lower > upper:  # e.g. a page token from before `since`: nothing between (DynamoDB refuses it)
        state.current().result_count = 0
        return {"alerts": [], "next_page_token": None}
    reader = services().alerts
    streams: list[Iterator[Mapping[str, Any]]]
    if principal.lea == NATIONAL:
        days = audit.days_between(utc_date(since_at), upper[:10])
        days.reverse()
        streams = [_chain(reader.newest(BY_RAISED_DAY, day, lower, upper) for day in days)]
    else:
        streams = [
            reader.newest(BY_READ_LEA, principal.lea, lower, upper),
            reader.newest(BY_OWNER_LEA, principal.lea, lower, upper),
        ]
    result = alert_rules.page(alert_rules.merge_streams(streams, before=cursor), principal.lea, page_size)
    state.current().result_count = len(result.alerts)
    token = None
    if result.next_cursor is not None:
        token = encode_token({"raised_at": result.next_cursor[0], "alert_id": result.next_cursor[1]})
    return {"alerts": result.alerts, "next_page_token": token}


def _chain(streams: Iterator[Iterator[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    for stream in streams:
        yield from stream


@router.post(
    "/alerts/<alert_id>/outcome",
    summary="Record the outcome of a hit (R-HIT); a changed outcome keeps the earlier one in history",
    responses={200: ok("the alert with its current outcome and history", OutcomeView), **ERRORS},
)
@requires(Role.OPERATOR)
def record_outcome(alert_id: str, request: Annotated[OutcomeRequest, Body()]) -> dict[str, Any]:
    principal = _principal()
    reader = services().alerts
    for _ in range(OUTCOME_ATTEMPTS):
        alert = reader.get(alert_id) if len(alert_id) <= MAX_ALERT_ID_CHARS else None
        if alert is None or not alert_rules.visible_to(principal.lea, alert):
            raise NotFound(f"no alert {alert_id}")  # 404, not 403: existence is not disclosed
        change = alert_rules.outcome_change(
            alert, request.outcome, request.note, user=principal.user, at=iso_utc(datetime.now(UTC))
        )
        if change is None:
            state.current().result_count = 1
            return alert_rules.outcome_view(alert)
        try:
            reader.record_outcome(alert_id, change.expected_version, change.fields, change.history)
        except OutcomeConflict:
            continue
        updated = {**alert, **change.fields}
        if change.history is not None:
            updated["outcome_history"] = [*(alert.get("outcome_history") or []), change.history]
        state.current().result_count = 1
        return alert_rules.outcome_view(updated)
    raise Conflict("the outcome was being changed by someone else at the same time; try again")
