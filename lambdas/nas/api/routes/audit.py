"""`GET /audit` and `GET /audit/verify` for auditors (R-AUDIT). Auditors of an LEA see their LEA's
events; NATIONAL auditors see every LEA's. These requests are audited like any other."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, NoReturn

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from nas.adapters.audit import AuditQuery
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
    decode_token,
    encode_token,
    parse_instant,
)
from nas.api.wiring import services
from nas.domain import audit
from nas.domain.audit import AuditRecord
from nas.domain.roles import Role
from nas.domain.timefmt import iso_utc, utc_date
from nas.services import audit as audit_service
from nas.services import audit_verification
from nas.services.audit import InvalidCursor

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped

DATE: dict[str, Any] = {"json_schema_extra": {"format": "date"}, "max_length": 10}
DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW_DAYS = 31
VERIFY_BUDGET_S = 20.0
"""A verification page stops after this long: API Gateway gives up at 29 s, and the request must
still be audited and answered."""
_METHOD = re.compile(r"^(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS)$")
_ROUTE = re.compile(r"^/[A-Za-z0-9_./{}+-]{0,200}$")


class AuditEventView(BaseModel):
    event_id: str
    at: str
    user: str | None
    groups: list[str]
    lea: str | None
    method: str
    route: str
    parameters: dict[str, Any]
    purpose: str | None
    reason: str | None
    case_ref: str | None
    status: int
    result_count: int | None
    request_id: str | None
    source_ip: str | None

    @classmethod
    def of(cls, record: AuditRecord) -> AuditEventView:
        values = {name: record.get(name) for name in audit.EVENT_FIELDS}
        return cls.model_validate(
            values
            | {
                "event_id": record.event_id,
                "groups": list(record.get("groups") or []),
                "parameters": stored_parameters(record.get("parameters")),
            }
        )


class AuditPage(BaseModel):
    events: list[AuditEventView]
    next_page_token: str | None


class ChainBreakView(BaseModel):
    chain_id: str
    chain_day: str
    chain: int
    seq: int
    reason: str
    detail: str


class UnanchoredView(BaseModel):
    chain_id: str
    first_seq: int
    last_seq: int


class VerifyReportView(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    intact: bool
    complete: bool
    from_: str = Field(alias="from")
    to: str
    days: list[str]
    records: int
    digests: int
    chains: int
    first_break: ChainBreakView | None
    breaks: list[ChainBreakView]
    breaks_omitted: int
    unanchored: list[UnanchoredView]
    next_page_token: str | None


def stored_parameters(value: Any) -> dict[str, Any]:
    """The stored `parameters` (canonical JSON text) as an object for the reader."""
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else {}
    except ValueError:
        return {"unreadable": True}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def parse_action(action: str | None) -> tuple[str | None, str | None]:
    """`action` is a method (`POST`), a route (`/alerts`) or both (`GET /alerts`)."""
    if not action:
        return None, None
    parts = action.split()
    if len(parts) == 2 and _METHOD.match(parts[0].upper()) and _ROUTE.match(parts[1]):
        return parts[0].upper(), parts[1]
    if len(parts) == 1 and _ROUTE.match(parts[0]):
        return None, parts[0]
    if len(parts) == 1 and _METHOD.match(parts[0].upper()):
        return parts[0].upper(), None
    raise BadRequest("action", "must be a method, a route or both, e.g. 'GET /alerts'")


@router.get(
    "/audit",
    summary="Audit events (R-AUDIT), newest first; an LEA's auditors see their LEA's events",
    responses=responses("a page of audit events", AuditPage),
)
@requires(Role.AUDITOR)
def list_events(
    user: Annotated[
        str | None, Query(min_length=1, max_length=128, description="events of this user (by-user index)")
    ] = None,
    from_: Annotated[
        str | None, Query(alias="from", description="RFC 3339; default `to` - 24h", **DATE_TIME)
    ] = None,
    to: Annotated[str | None, Query(description="RFC 3339; default now", **DATE_TIME)] = None,
    action: Annotated[
        str | None, Query(max_length=220, description="method, route or both: 'GET /alerts'")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=LIMIT_DESCRIPTION)] = 50,
    page_token: Annotated[
        str | None, Query(max_length=MAX_TOKEN_CHARS, description=PAGE_TOKEN_DESCRIPTION)
    ] = None,
) -> AuditPage:
    principal = state.principal()
    end = parse_instant("to", to) or datetime.now(UTC)
    start = parse_instant("from", from_) or end - DEFAULT_WINDOW
    if start > end:
        raise BadRequest("from", "must not be after `to`")
    if end - start > timedelta(days=MAX_WINDOW_DAYS):
        raise BadRequest("from", f"the window may span at most {MAX_WINDOW_DAYS} days")
    method, route = parse_action(action)
    query = AuditQuery(
        start=iso_utc(start),
        end=iso_utc(end),
        user=user,
        lea=None if principal.is_national else principal.lea,
        method=method,
        route=route,
    )
    try:
        page = audit_service.list_events(services().audit, query, limit, decode_token(page_token))
    except InvalidCursor:
        raise BadRequest("page_token", "is not a page token of this query") from None
    state.used(result_count=len(page.records))
    return AuditPage(
        events=[AuditEventView.of(r) for r in page.records],
        next_page_token=encode_token(page.cursor) if page.cursor else None,
    )


def _day(field: str, text: str | None, default: str) -> str:
    if text is None:
        return default
    try:
        day = date.fromisoformat(text) if len(text) == 10 else _bad_day(field)
    except ValueError:
        return _bad_day(field)
    if not audit.in_range(day):
        raise BadRequest(field, f"must be a day in the years {audit.MIN_YEAR} to {audit.MAX_YEAR}")
    return day.isoformat()


def _bad_day(field: str) -> NoReturn:
    raise BadRequest(field, "must be a date YYYY-MM-DD")


@router.get(
    "/audit/verify",
    summary="Verify the audit chains of one or more UTC days against their signed digests (R-AUDIT);"
    " a long range answers in pages",
    responses=responses("the verification report", VerifyReportView),
)
@requires(Role.AUDITOR)
def verify(
    from_: Annotated[
        str | None, Query(alias="from", description="first day YYYY-MM-DD; default today", **DATE)
    ] = None,
    to: Annotated[str | None, Query(description="last day YYYY-MM-DD; default `from`", **DATE)] = None,
    page_token: Annotated[
        str | None,
        Query(max_length=MAX_TOKEN_CHARS, description="next_page_token of the previous page of this range"),
    ] = None,
) -> VerifyReportView:
    first = _day("from", from_, utc_date(datetime.now(UTC)))
    last = _day("to", to, first)
    if last < first:
        raise BadRequest("to", "must not be before `from`")
    if (date.fromisoformat(last) - date.fromisoformat(first)).days >= MAX_WINDOW_DAYS:
        raise BadRequest("to", f"at most {MAX_WINDOW_DAYS} days at a time")
    try:
        report, next_cursor = audit_verification.verify_page(
            services().audit_verification(),
            first,
            last,
            decode_token(page_token),
            should_stop=audit_service.deadline_after(VERIFY_BUDGET_S),
        )
    except InvalidCursor:
        raise BadRequest("page_token", "is not a page token of this range") from None
    state.used(result_count=report.records)
    return VerifyReportView.model_validate(
        report.as_dict() | {"next_page_token": encode_token(next_cursor) if next_cursor else None}
    )
