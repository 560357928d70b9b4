"""Data-subject requests for the DPO (R-SAR): `POST /subject-requests`, `GET /subject-requests`,
`GET /subject-requests/{id}`, `POST /subject-requests/{id}/decision`,
`POST /subject-requests/{id}/lift-restriction` and `GET /subject-requests/{id}/export?format=csv|json`.

Every request's audit record carries the subject request as its case (`case_ref` is the request id) and
`data-subject-request` as its purpose; an export's system search is audited under the export request
(its rows counted in `result_count`). An export holds time and a coarse area only (R-CAMERA)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from nas.adapters.subject_requests import Cursor
from nas.api import state
from nas.api.auth import requires
from nas.api.docs import TEXT, responses
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
from nas.domain.roles import Role
from nas.domain.subject_requests import (
    MAX_RECTIFICATIONS,
    MAX_TEXT_CHARS,
    MAX_WITHHELD,
    MIN_REASON_CHARS,
    Decision,
    DecisionRequest,
    RequestKind,
    RequestStatus,
    SubjectRequest,
)
from nas.domain.timefmt import iso_utc
from nas.services.subject_requests import NewRequest, ShownRequest

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped

REQUEST_ID_PATTERN = r"^[A-Za-z0-9-]{1,64}$"
REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9/._-]{0,63}$"
ENTRY_ID_PATTERN = r"^e-[0-9a-f]{24}$"
SAR_PURPOSE = "data-subject-request"
RequestId = Annotated[str, Path(pattern=REQUEST_ID_PATTERN)]


class NewRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: RequestKind
    vrm: Annotated[str, Field(min_length=1, max_length=20)]
    received_at: Annotated[
        str, Field(description="RFC 3339 with offset: when the request was received", **DATE_TIME)
    ]
    requester_ref: Annotated[
        str,
        Field(pattern=REFERENCE_PATTERN, description="the DPO's reference for the requester (never a name)"),
    ]
    notes: Annotated[str, Field(max_length=2000)] = ""


EntryId = Annotated[str, Field(pattern=ENTRY_ID_PATTERN, description="a read's entry_id in the export")]


class RectificationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entry_id: EntryId
    vrm: Annotated[str, Field(min_length=1, max_length=20, description="the VRM the read really shows")]


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    reason: Annotated[str, Field(min_length=MIN_REASON_CHARS, max_length=MAX_TEXT_CHARS)]
    exemption: Annotated[str, Field(min_length=3, max_length=300)] | None = Field(
        default=None, description="the exemption relied on (required to refuse, or to grant in part)"
    )
    corrections: Annotated[list[RectificationBody], Field(max_length=MAX_RECTIFICATIONS)] = Field(
        default_factory=list, description="rectification: the reads to correct"
    )
    withheld: Annotated[list[EntryId], Field(max_length=MAX_WITHHELD)] = Field(
        default_factory=list,
        description="erasure granted in part: the entry_ids (from the export) of the reads kept under"
        " the exemption",
    )


class LiftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=MIN_REASON_CHARS, max_length=MAX_TEXT_CHARS)]


class SubjectRequestView(BaseModel):
    request_id: str
    kind: RequestKind
    vrm: str
    received_at: str
    due_date: str
    overdue: bool
    requester_ref: str
    notes: str
    status: RequestStatus
    decision: Decision | None
    decided_at: str | None
    decided_by: str | None
    decision_reason: str | None
    exemption: str | None
    outcome: dict[str, Any] = Field(
        description="what was done: corrections, restricted reads, erasure counts"
    )
    restriction_in_force: bool
    restriction_lifted_at: str | None
    restriction_lifted_by: str | None
    created_by: str
    created_at: str

    @classmethod
    def of(cls, shown: ShownRequest) -> SubjectRequestView:
        r = shown.request
        return cls(
            request_id=r.request_id,
            kind=r.kind,
            vrm=r.vrm,
            received_at=iso_utc(r.received_at),
            due_date=r.due.isoformat(),
            overdue=shown.overdue,
            requester_ref=r.requester_ref,
            notes=r.notes,
            status=r.status,
            decision=r.decision,
            decided_at=iso_utc(r.decided_at) if r.decided_at else None,
            decided_by=r.decided_by,
            decision_reason=r.decision_reason,
            exemption=r.exemption,
            outcome=r.outcome,
            restriction_in_force=r.restriction.in_force,
            restriction_lifted_at=iso_utc(r.restriction.lifted_at) if r.restriction.lifted_at else None,
            restriction_lifted_by=r.restriction.lifted_by,
            created_by=r.created_by,
            created_at=iso_utc(r.created_at),
        )


class SubjectRequestList(BaseModel):
    requests: list[SubjectRequestView]
    next_page_token: str | None


def _why(request: SubjectRequest, reason: str | None = None) -> None:
    """R-REASON for the DPO's work: the subject request is the case."""
    why: dict[str, str | None] = {"purpose": SAR_PURPOSE, "case_ref": request.request_id}
    if reason is not None:
        why["reason"] = reason
    state.current().why.update(why)


@router.post(
    "/subject-requests",
    summary="Record a data-subject request (R-SAR); due one calendar month after receipt",
    responses=responses("the request", SubjectRequestView, status=201),
    status_code=201,
)
@requires(Role.DPO)
def create_request(request: Annotated[NewRequestBody, Body()]) -> SubjectRequestView:
    received = parse_instant("received_at", request.received_at)
    if received is None:
        raise BadRequest("received_at", "is required")
    created = services().subject_requests.create(
        state.principal(),
        NewRequest(request.kind, request.vrm, received, request.requester_ref, request.notes),
    )
    _why(created.request, f"R-SAR {request.kind.value} request received {received.date().isoformat()}")
    state.used(result_count=1, request_id=created.request.request_id)
    return SubjectRequestView.of(created)


PAGE_KEYS = ("due_date", "request_id")  # what a page token holds: the position, then the id


def _cursor(token: str | None) -> Cursor | None:
    return pair_cursor(token, PAGE_KEYS, position_chars=len("2026-01-01"))


@router.get(
    "/subject-requests",
    summary="Data-subject requests by status, soonest due first; overdue=true for open ones past due",
    responses=responses("a page of requests", SubjectRequestList),
)
@requires(Role.DPO)
def list_requests(
    status: Annotated[RequestStatus | None, Query(description="open (default) or decided")] = None,
    overdue: Annotated[bool, Query(description="only open requests past their due date")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=LIMIT_DESCRIPTION)] = 50,
    page_token: Annotated[
        str | None, Query(max_length=MAX_TOKEN_CHARS, description=PAGE_TOKEN_DESCRIPTION)
    ] = None,
) -> SubjectRequestList:
    listing = services().subject_requests.listing(
        state.principal(), status=status, overdue=overdue, limit=limit, cursor=_cursor(page_token)
    )
    state.used(result_count=len(listing.requests))
    token = pair_token(listing.next_cursor, PAGE_KEYS)
    return SubjectRequestList(
        requests=[SubjectRequestView.of(r) for r in listing.requests], next_page_token=token
    )


@router.get(
    "/subject-requests/<request_id>",
    summary="One data-subject request, its decision and what was done",
    responses=responses("the request", SubjectRequestView, 404),
)
@requires(Role.DPO)
def get_request(request_id: RequestId) -> SubjectRequestView:
    found = services().subject_requests.get(state.principal(), request_id)
    _why(found.request)
    state.used(result_count=1)
    return SubjectRequestView.of(found)


@router.post(
    "/subject-requests/<request_id>/decision",
    summary="Decide a request once (granted, refused or partly, citing the exemption) and carry it out",
    responses=responses("the request, decided", SubjectRequestView, 404, 409),
)
@requires(Role.DPO)
def decide_request(request_id: RequestId, request: Annotated[DecisionBody, Body()]) -> SubjectRequestView:
    decided = services().subject_requests.decide(
        state.principal(),
        request_id,
        DecisionRequest(
            decision=request.decision,
            reason=request.reason,
            exemption=request.exemption,
            corrections=tuple((c.entry_id, c.vrm) for c in request.corrections),
            withheld=tuple(request.withheld),
        ),
    )
    _why(decided.request)
    state.used(result_count=1, decision=request.decision.value, outcome=decided.request.outcome)
    return SubjectRequestView.of(decided)


@router.post(
    "/subject-requests/<request_id>/lift-restriction",
    summary="Lift a restriction in force: searches return the VRM's reads again",
    responses=responses("the request, its restriction lifted", SubjectRequestView, 404, 409),
)
@requires(Role.DPO)
def lift_restriction(request_id: RequestId, request: Annotated[LiftBody, Body()]) -> SubjectRequestView:
    lifted = services().subject_requests.lift(state.principal(), request_id, request.reason)
    _why(lifted.request)
    state.used(result_count=1)
    return SubjectRequestView.of(lifted)


@router.get(
    "/subject-requests/<request_id>/export",
    summary="An access request's export: the VRM's reads (time, LEA, 10 km grid square) and alerts",
    responses=responses(
        "the export",
        None,
        404,
        409,
        content={"text/csv": {"schema": TEXT}, "application/json": {"schema": {"type": "object"}}},
    ),
)
@requires(Role.DPO)
def export_request(
    request_id: RequestId,
    format: Annotated[Literal["csv", "json"], Query(description="csv (default) or json")] = "csv",
) -> Response[Any]:
    made = services().subject_requests.export(state.principal(), request_id)
    state.current().why.update(
        purpose=SAR_PURPOSE, case_ref=made.request_id, reason=f"R-SAR access export {made.request_id}"
    )
    state.used(
        result_count=len(made.reads) + len(made.alerts),
        system_search={
            "type": "vrm",
            "vrm": made.vrm,
            "from": iso_utc(made.window_from),
            "to": iso_utc(made.window_to),
        },
        reads=len(made.reads),
        alerts=len(made.alerts),
        complete=made.complete,
    )
    body = made.csv_text() if format == "csv" else made.json_text()
    content_type = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    return Response(
        status_code=200,
        content_type=content_type,
        body=body,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="subject-access-{made.request_id}.{format}"',
        },
    )
