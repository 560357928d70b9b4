"""`GET /alerts` and `POST /alerts/{alert_id}/outcome` for operators (R-ALERT, R-HIT, R-CIRC).

Listing order: newest first by `raised_at` (then `alert_id`), since a control room works from the
latest hit; `next_page_token` continues towards `since`.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from nas.api import state
from nas.api.auth import requires
from nas.api.docs import responses
from nas.api.errors import BadRequest
from nas.api.params import (
    DATE_TIME,
    LIMIT_DESCRIPTION,
    MAX_PAGE,
    MAX_TOKEN_CHARS,
    PAGE_TOKEN_DESCRIPTION,
    pair_cursor,
    pair_token,
    parse_instant,
)
from nas.api.wiring import services
from nas.domain.alerts import MAX_NOTE_CHARS, CorrectedAlert, Cursor
from nas.domain.models import Outcome
from nas.domain.roles import Role
from nas.domain.timefmt import iso_utc

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped

MAX_ALERT_ID_CHARS = 128


class AlertView(BaseModel):
    """An alert as operators see it (SPEC §6): read and VOI facts, no images, the current outcome.
    `vrm` is the read's VRM as corrected (R-CORRECT); `original_vrm` is the VRM read when corrected."""

    alert_id: str
    read_id: str
    vrm: str
    corrected: bool
    original_vrm: str | None
    misread_correction_id: str | None = Field(
        description="the correction of the read when the outcome is misread (R-CORRECT)"
    )
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
    retro: bool = Field(description="raised by a retro-hunt over stored reads, not by the live match")

    @classmethod
    def of(cls, shown: CorrectedAlert) -> AlertView:
        alert = shown.record.alert
        return cls(
            alert_id=alert.alert_id,
            read_id=alert.read_id,
            vrm=shown.vrm,
            corrected=shown.corrected,
            original_vrm=alert.vrm if shown.corrected else None,
            misread_correction_id=shown.misread_correction_id,
            captured_at=iso_utc(alert.captured_at),
            camera_id=alert.camera_id,
            lea=alert.lea,
            voi_id=alert.voi_id,
            source=alert.source.value,
            category=alert.category,
            action=alert.action.value,
            priority=alert.priority,
            raised_at=iso_utc(alert.raised_at),
            outcome=alert.outcome,
            retro=alert.retro,
        )


class AlertsPage(BaseModel):
    alerts: list[AlertView]
    next_page_token: str | None


class OutcomeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    note: Annotated[str, Field(max_length=MAX_NOTE_CHARS)] = ""


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
    outcome_history_omitted: int = Field(
        description="older replaced outcomes not kept (only the last 20 are)"
    )

    @classmethod
    def of_record(cls, shown: CorrectedAlert) -> OutcomeView:
        record = shown.record
        return cls(
            **AlertView.of(shown).model_dump(),
            note=record.outcome_note,
            recorded_by=record.outcome_by,
            recorded_at=record.outcome_at,
            outcome_history=[OutcomeHistoryEntry(**e.model_dump()) for e in record.outcome_history],
            outcome_history_omitted=record.outcome_history_omitted,
        )


PAGE_KEYS = ("raised_at", "alert_id")  # what a page token holds: the position, then the id


def alert_cursor(token: str | None) -> Cursor | None:
    """The (raised_at, alert_id) position a page token holds; anything else is a 400."""
    cursor = pair_cursor(token, PAGE_KEYS, max_id_chars=MAX_ALERT_ID_CHARS)
    if cursor is None:
        return None
    raised_at, alert_id = cursor
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
    responses=responses("a page of alerts", AlertsPage),
)
@requires(Role.OPERATOR)
def list_alerts(
    since: Annotated[
        str | None,
        Query(description="RFC 3339 with offset; default 24 hours ago, at most 31 days", **DATE_TIME),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=LIMIT_DESCRIPTION)] = 50,
    page_token: Annotated[
        str | None, Query(max_length=MAX_TOKEN_CHARS, description=PAGE_TOKEN_DESCRIPTION)
    ] = None,
) -> AlertsPage:
    page = services().alerts.list_visible(
        state.principal(), since=parse_instant("since", since), limit=limit, cursor=alert_cursor(page_token)
    )
    state.used(result_count=len(page.records))
    token = pair_token(page.next_cursor, PAGE_KEYS)
    return AlertsPage(
        alerts=[AlertView.of(CorrectedAlert(r, page.correction_of(r))) for r in page.records],
        next_page_token=token,
    )


@router.post(
    "/alerts/<alert_id>/outcome",
    summary="Record the outcome of a hit (R-HIT); a changed outcome keeps the earlier one in history",
    responses=responses("the alert with its current outcome and history", OutcomeView, 404, 409),
)
@requires(Role.OPERATOR)
def record_outcome(
    alert_id: Annotated[str, Path(min_length=1, max_length=MAX_ALERT_ID_CHARS)],
    request: Annotated[OutcomeRequest, Body()],
) -> OutcomeView:
    record = services().alerts.record_outcome(state.principal(), alert_id, request.outcome, request.note)
    state.used(result_count=1)
    return OutcomeView.of_record(record)
