"""`POST /searches`, `GET /searches/{search_id}` and `GET /searches` for investigators (SPEC §6; R-ACCESS,
R-AUTHZ, R-REASON, R-LIMIT, R-RET-365, R-DUP). Only the user who ran a search reads it (anyone else:
404). The audit record of each request holds what was searched (the body's VRM, pattern or cameras,
and the cameras a `near` resolved to), why (purpose, reason, case_ref: carried over to every page of
the search) and how many rows were returned.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from nas.adapters.searches import Cursor
from nas.api import state
from nas.api.auth import requires
from nas.api.docs import responses
from nas.api.errors import BadRequest
from nas.api.params import (
    MAX_PAGE,
    MAX_TOKEN_CHARS,
    PAGE_TOKEN_DESCRIPTION,
    decode_token,
    encode_token,
    pair_cursor,
    pair_token,
    parse_instant,
)
from nas.api.wiring import services
from nas.domain.policy import InvestigationLevel
from nas.domain.roles import Role
from nas.domain.search import (
    MAX_CONVOY_WITHIN_S,
    MAX_LOCATION_CAMERAS,
    MAX_NEAR_RADIUS_M,
    PAGE_LIMIT,
    ROW_LIMIT,
    ConvoyCriteria,
    ConvoyHit,
    Criteria,
    Hit,
    LocationCriteria,
    Near,
    PartialCriteria,
    Purpose,
    SearchRecord,
    SearchRequest,
    SearchStatus,
    SearchType,
    VrmCriteria,
    Why,
)
from nas.domain.timefmt import iso_utc
from nas.domain.types import CaseRef, Identifier

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped

SEARCH_ROLES = (Role.INVESTIGATOR, Role.SENIOR_INVESTIGATOR)
SEARCH_ID_PATTERN = r"^[A-Za-z0-9-]{1,64}$"
INSTANT: dict[str, Any] = {"max_length": 64, "json_schema_extra": {"format": "date-time"}}


class _SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    from_: Annotated[
        str, Field(alias="from", description="RFC 3339 with offset: the oldest capture", **INSTANT)
    ]
    to: Annotated[str, Field(description="RFC 3339 with offset: the newest capture", **INSTANT)]
    investigation_level: InvestigationLevel
    purpose: Purpose
    reason: Annotated[
        str, Field(min_length=10, max_length=1000, description="why (R-REASON), 10+ characters")
    ]
    case_ref: CaseRef
    authorisation_id: Identifier | None = Field(
        default=None, description="an authorisation for this case (R-AUTHZ), needed beyond 90 days"
    )


class VrmSearch(_SearchBody):
    type: Literal["vrm"]
    vrm: Annotated[str, Field(min_length=1, max_length=20)]
    ocr_tolerant: bool = Field(default=False, description="also VRMs differing only by OCR look-alikes")


class PartialSearch(_SearchBody):
    type: Literal["partial"]
    pattern: Annotated[
        str,
        Field(
            min_length=3,
            max_length=30,
            description="`?` one character, `*` any run; 3+ fixed characters; window ≤ 31 days",
        ),
    ]


class NearPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    radius_m: Annotated[float, Field(gt=0, le=MAX_NEAR_RADIUS_M)]


class LocationSearch(_SearchBody):
    type: Literal["location"]
    camera_ids: Annotated[list[Identifier], Field(min_length=1, max_length=MAX_LOCATION_CAMERAS)] | None = (
        None
    )
    near: NearPoint | None = Field(default=None, description="registered cameras within radius_m (≤ 20)")


class ConvoySearch(_SearchBody):
    type: Literal["convoy"]
    vrm: Annotated[str, Field(min_length=1, max_length=20)]
    within_s: Annotated[int, Field(ge=1, le=MAX_CONVOY_WITHIN_S)] = 120
    min_sightings: Annotated[int, Field(ge=2, le=100)] = 3


SearchBody = Annotated[VrmSearch | PartialSearch | LocationSearch | ConvoySearch, Field(discriminator="type")]


class SearchStarted(BaseModel):
    search_id: str
    status: SearchStatus


class ReadRow(BaseModel):
    """A read a search found (SPEC §6): `read_ref` reaches it later without a scan."""

    read_id: str
    vrm: str
    captured_at: str
    camera_id: str
    lea: str
    lat: float | None
    lon: float | None
    direction: str | None
    confidence: int | None
    corrected: bool
    read_ref: str


class ConvoyRead(BaseModel):
    read_id: str
    camera_id: str
    captured_at: str
    read_ref: str


class ConvoyRow(BaseModel):
    """A VRM seen with the target: on `count` occasions (target reads), at `cameras`; `reads` lists
    its supporting reads (the first 50 of `supporting_reads`)."""

    vrm: str
    count: int
    supporting_reads: int
    cameras: list[str]
    reads: list[ConvoyRead]


class SearchPageView(BaseModel):
    search_id: str
    type: SearchType
    status: SearchStatus
    rows: list[ReadRow | ConvoyRow]
    next_page_token: str | None
    truncated: bool = Field(description=f"more than {ROW_LIMIT} rows matched; the first {ROW_LIMIT} are kept")
    row_count: int | None = Field(description="rows kept, once the search has succeeded")
    failure: str | None = None


class SearchSummary(BaseModel):
    search_id: str
    type: SearchType
    status: SearchStatus
    created_at: str
    from_: str = Field(alias="from")
    to: str
    criteria: dict[str, Any]
    investigation_level: InvestigationLevel
    case_ref: str
    row_count: int | None
    truncated: bool | None


class SearchList(BaseModel):
    searches: list[SearchSummary]
    next_page_token: str | None


def row_of(hit: Hit) -> ReadRow | ConvoyRow:
    if isinstance(hit, ConvoyHit):
        return ConvoyRow(
            vrm=hit.vrm,
            count=hit.sightings,
            supporting_reads=hit.supporting_reads,
            cameras=list(hit.cameras),
            reads=[
                ConvoyRead(
                    read_id=s.read_id,
                    camera_id=s.camera_id,
                    captured_at=iso_utc(s.captured_at),
                    read_ref=s.ref.encode(),
                )
                for s in hit.reads
            ],
        )
    return ReadRow(
        read_id=hit.read_id,
        vrm=hit.vrm,
        captured_at=iso_utc(hit.captured_at),
        camera_id=hit.camera_id,
        lea=hit.lea,
        lat=hit.lat,
        lon=hit.lon,
        direction=hit.direction,
        confidence=hit.confidence,
        corrected=hit.corrected,
        read_ref=hit.ref.encode(),
    )


def criteria_of(body: VrmSearch | PartialSearch | LocationSearch | ConvoySearch) -> Criteria:
    if isinstance(body, VrmSearch):
        return VrmCriteria(body.vrm, body.ocr_tolerant)
    if isinstance(body, PartialSearch):
        return PartialCriteria(body.pattern)
    if isinstance(body, LocationSearch):
        near = Near(body.near.lat, body.near.lon, body.near.radius_m) if body.near else None
        return LocationCriteria(tuple(body.camera_ids or ()), near)
    return ConvoyCriteria(body.vrm, body.within_s, body.min_sightings)


def request_of(body: VrmSearch | PartialSearch | LocationSearch | ConvoySearch) -> SearchRequest:
    window_from = parse_instant("from", body.from_)
    window_to = parse_instant("to", body.to)
    if window_from is None or window_to is None:  # required fields: only an absent value is None
        raise BadRequest("from" if window_from is None else "to", "is required")
    return SearchRequest(
        criteria=criteria_of(body),
        window_from=window_from,
        window_to=window_to,
        level=body.investigation_level,
        why=Why(body.purpose, body.reason, body.case_ref),
        authorisation_id=body.authorisation_id,
    )


@router.post(
    "/searches",
    summary="Start a search of stored reads (vrm, partial, location, convoy); every rule is checked first",
    responses=responses("the search, started", SearchStarted, status=202),
    status_code=202,
)
@requires(*SEARCH_ROLES)
def start_search(request: Annotated[SearchBody, Body()]) -> SearchStarted:
    started = services().searches.start(state.principal(), request_of(request))
    uses: dict[str, Any] = {"search_id": started.record.search_id}
    if started.cameras and isinstance(request, LocationSearch) and request.near is not None:
        uses["cameras"] = list(started.cameras)
    state.used(**uses)
    return SearchStarted(search_id=started.record.search_id, status=started.record.status)


def _offset(search_id: str, token: str | None) -> int:
    value = decode_token(token)
    if value is None:
        return 0
    offset = value.get("offset")
    if (
        set(value) != {"search_id", "offset"}
        or value.get("search_id") != search_id
        or not isinstance(offset, int)
        or isinstance(offset, bool)
        or not 0 < offset < ROW_LIMIT
        or offset % PAGE_LIMIT
    ):
        raise BadRequest("page_token", "is not a page token of this search")
    return offset


@router.get(
    "/searches/<search_id>",
    summary="A search's status and a page of its rows (at most 100; 1,000 in all), newest first",
    responses=responses("the search and a page of its rows", SearchPageView, 404),
)
@requires(*SEARCH_ROLES)
def get_search(
    search_id: Annotated[str, Path(pattern=SEARCH_ID_PATTERN)],
    page_token: Annotated[
        str | None, Query(max_length=MAX_TOKEN_CHARS, description=PAGE_TOKEN_DESCRIPTION)
    ] = None,
) -> SearchPageView:
    page = services().searches.page(state.principal(), search_id, offset=_offset(search_id, page_token))
    record = page.record
    # R-REASON: the search's purpose, reason and case carry over to every read of its rows.
    state.current().why.update(
        purpose=record.why.purpose.value, reason=record.why.reason, case_ref=record.why.case_ref
    )
    state.used(result_count=len(page.hits), search_type=record.search_type.value)
    token = None
    if page.next_offset is not None:
        token = encode_token({"search_id": search_id, "offset": page.next_offset})
    return SearchPageView(
        search_id=record.search_id,
        type=record.search_type,
        status=record.status,
        rows=[row_of(h) for h in page.hits],
        next_page_token=token,
        truncated=bool(record.truncated),
        row_count=record.row_count,
        failure=record.failure,
    )


PAGE_KEYS = ("created_at", "search_id")  # what a page token holds: the position, then the id


def _cursor(token: str | None) -> Cursor | None:
    return pair_cursor(token, PAGE_KEYS, position_chars=len("2026-01-01T00:00:00.000000Z"))


def summary_of(record: SearchRecord) -> SearchSummary:
    return SearchSummary.model_validate(
        {
            "search_id": record.search_id,
            "type": record.search_type,
            "status": record.status,
            "created_at": iso_utc(record.created_at),
            "from": iso_utc(record.window_from),
            "to": iso_utc(record.window_to),
            "criteria": record.criteria,
            "investigation_level": record.level,
            "case_ref": record.why.case_ref,
            "row_count": record.row_count,
            "truncated": record.truncated,
        }
    )


@router.get(
    "/searches",
    summary="The caller's own recent searches (31 days), newest first, without rows",
    responses=responses("a page of the caller's searches", SearchList),
)
@requires(*SEARCH_ROLES)
def list_searches(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size, 1..100")] = 20,
    page_token: Annotated[
        str | None, Query(max_length=MAX_TOKEN_CHARS, description=PAGE_TOKEN_DESCRIPTION)
    ] = None,
) -> SearchList:
    listing = services().searches.list_own(state.principal(), limit=limit, cursor=_cursor(page_token))
    state.used(result_count=len(listing.records))
    token = pair_token(listing.next_cursor, PAGE_KEYS)
    return SearchList(searches=[summary_of(r) for r in listing.records], next_page_token=token)
