"""VOI management (SPEC §6; R-VOI, R-VOI-28, R-VOI-56, R-VOI-DEL, R-VOI-BULK, R-WHITE, R-CIRC).

`voi-manager` writes, `operator` and `voi-manager` read. An entry the caller may not see is a 404,
never a 403 (its existence is not disclosed); expired entries are never returned. Persons are
referred to only by PNC reference (`pnc_ref`, and in `reason`), never by name.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nas.adapters.voi import ReviewPosition
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
from nas.domain.models import VOI_REASON_MAX_CHARS, VoiAction, check_circulation
from nas.domain.reads import problems_of
from nas.domain.retro_hunt import MAX_DAYS as MAX_HUNT_DAYS
from nas.domain.retro_hunt import HuntRequest, RetroHunt
from nas.domain.roles import Role
from nas.domain.search import Purpose
from nas.domain.timefmt import iso_utc
from nas.domain.types import CaseRef
from nas.domain.voi import VoiChanges, VoiDraft, VoiRecord
from nas.domain.voi_imports import ImportRecord
from nas.domain.voi_lists import MAX_LIST_ROWS, ListGeneration, ListSource, parse_voi_id
from nas.services.voi_imports import ImportView as ImportState

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped

VOI_ID = r"^[A-Za-z0-9._:-]{1,64}$"
IMPORT_ID = r"^[A-Za-z0-9._:-]{1,64}$"
LEA = r"^[A-Z][A-Z0-9]{1,15}$"
READERS = (Role.OPERATOR, Role.VOI_MANAGER)
REASON_DESCRIPTION = (
    "why the vehicle is of interest (at most 500 characters); persons are referred to only by PNC"
    " reference, never by name (R-VOI)"
)


class ChangesBody(BaseModel):
    """The fields a manager sets; a revision (PUT) replaces them all and restarts both clocks."""

    model_config = ConfigDict(extra="forbid")

    category: Annotated[
        str, Field(min_length=2, max_length=40, pattern=r"^[a-z][a-z-]*$", description="e.g. stolen, wanted")
    ]
    action: VoiAction
    priority: Annotated[int, Field(ge=1, le=3, description="1 high, 3 low")]
    reason: Annotated[
        str, Field(min_length=3, max_length=VOI_REASON_MAX_CHARS, description=REASON_DESCRIPTION)
    ]
    pnc_ref: Annotated[str | None, Field(pattern=r"^\d{2}/\d{1,7}[A-Z]$", description="e.g. 24/123456A")] = (
        None
    )
    circulation: Annotated[
        list[Annotated[str, Field(pattern=LEA)]],
        Field(min_length=1, max_length=100, description='LEA codes, or ["NATIONAL"] alone'),
    ]
    sensitive: bool = False
    retro_hunt_days: Annotated[
        int,
        Field(
            ge=0,
            le=MAX_HUNT_DAYS,
            description="search stored reads of the VRM over the last N days and raise `retro` alerts"
            " for them (0: none); needs purpose and case_ref, under which the search is audited",
        ),
    ] = 0
    purpose: Annotated[Purpose | None, Field(description="R-REASON: the retro-hunt's purpose")] = None
    case_ref: Annotated[
        CaseRef | None, Field(description="R-REASON: the case the retro-hunt is audited under")
    ] = None

    @field_validator("circulation")
    @classmethod
    def _circulation(cls, value: list[str]) -> list[str]:
        check_circulation(tuple(value))
        return value


class CreateBody(ChangesBody):
    vrm: Annotated[str, Field(min_length=1, max_length=16, description="as written; normalised (R-VRM)")]
    source: Literal["local", "pnc"] = "local"
    owner_lea: Annotated[
        str | None, Field(pattern=LEA, description="NATIONAL managers only; default the caller's LEA")
    ] = None


def _domain[M: BaseModel](model: type[M], values: dict[str, Any]) -> M:
    """The body as the domain's model: a rule the schema cannot say (an unknown LEA code, a VRM
    that normalises to nothing) is a 400 naming the field."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problem = problems_of(exc)[0]
        raise BadRequest(problem.field, problem.message) from None


HUNT_FIELDS = {"retro_hunt_days", "purpose", "case_ref"}


def _changes(body: ChangesBody) -> VoiChanges:
    return _domain(VoiChanges, body.model_dump(exclude=HUNT_FIELDS))


def _draft(body: CreateBody) -> VoiDraft:
    return _domain(VoiDraft, body.model_dump(exclude=HUNT_FIELDS))


def _hunt_used(record: VoiRecord) -> dict[str, str]:
    """The audit of a request that queued a retro-hunt names it (its own audit record follows)."""
    return {"retro_hunt_id": record.retro_hunt.hunt_id} if record.retro_hunt else {}


def _hunt(body: ChangesBody) -> HuntRequest | None:
    if not body.retro_hunt_days:
        return None
    return HuntRequest(body.retro_hunt_days, body.purpose, body.case_ref)


class FieldChangeView(BaseModel):
    before: Any
    after: Any


class RevisionView(BaseModel):
    revised_by: str
    revised_at: str
    changes: dict[str, FieldChangeView] = Field(description="each changed field; empty for a review")


class RetroHuntView(BaseModel):
    """The entry's latest retro-hunt: queued and running while its search runs (seconds), then how
    many stored reads it found and how many alerts (flagged `retro`) it raised."""

    hunt_id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    days: int
    requested_by: str
    requested_at: str
    window_from: str
    window_to: str
    reads_found: int | None
    alerts_raised: int | None = Field(description="new alerts; reads that had alerted already count not")
    truncated: bool | None = Field(description="more than 1,000 reads: only the newest 1,000 were hunted")
    failure: str | None
    finished_at: str | None

    @classmethod
    def of(cls, hunt: RetroHunt) -> RetroHuntView:
        return cls(
            hunt_id=hunt.hunt_id,
            status=hunt.status.value,
            days=hunt.days,
            requested_by=hunt.requested_by,
            requested_at=iso_utc(hunt.requested_at),
            window_from=iso_utc(hunt.window_from),
            window_to=iso_utc(hunt.window_to),
            reads_found=hunt.reads_found,
            alerts_raised=hunt.alerts_raised,
            truncated=hunt.truncated,
            failure=hunt.failure,
            finished_at=iso_utc(hunt.finished_at) if hunt.finished_at else None,
        )


class VoiView(BaseModel):
    """An entry with the R-VOI fields; `from_list` entries change only by importing their list."""

    voi_id: str
    vrm: str
    source: str
    category: str
    action: str
    priority: int
    reason: str
    pnc_ref: str | None
    circulation: list[str]
    owner_lea: str
    sensitive: bool
    created_by: str
    created_at: str
    last_revised_at: str
    review_due_at: str
    expires_at: str
    from_list: bool
    revisions: list[RevisionView]
    revisions_omitted: int = Field(description="older revisions not kept (only the last 20 are)")
    retro_hunt: RetroHuntView | None = Field(
        default=None, description="the latest retro-hunt of a single entry; null when none was asked for"
    )

    @classmethod
    def of(cls, record: VoiRecord) -> VoiView:
        entry = record.entry
        return cls(
            voi_id=entry.voi_id,
            vrm=entry.vrm,
            source=entry.source.value,
            category=entry.category,
            action=entry.action.value,
            priority=entry.priority,
            reason=entry.reason,
            pnc_ref=entry.pnc_ref,
            circulation=list(entry.circulation),
            owner_lea=entry.owner_lea,
            sensitive=entry.sensitive,
            created_by=entry.created_by,
            created_at=iso_utc(entry.created_at),
            last_revised_at=iso_utc(entry.last_revised_at),
            review_due_at=iso_utc(entry.review_due_at),
            expires_at=iso_utc(entry.expires_at),
            from_list=parse_voi_id(entry.voi_id) is not None,
            revisions=[RevisionView.model_validate(r.model_dump()) for r in record.revisions],
            revisions_omitted=record.revisions_omitted,
            retro_hunt=RetroHuntView.of(record.retro_hunt) if record.retro_hunt else None,
        )


class VoiEntries(BaseModel):
    entries: list[VoiView]
    white_listed: bool | None = Field(
        description="R-WHITE: whether the DVLA white list holds the VRM (shown to managers; null otherwise)"
    )
    next_page_token: str | None = Field(description="always null: every entry of a VRM is on one page")


class DeletedVoi(BaseModel):
    voi_id: str
    deleted: bool


class ReviewView(BaseModel):
    voi_id: str
    vrm: str
    source: str
    category: str
    priority: int
    review_due_at: str
    expires_at: str
    overdue: bool


class ListReviewView(BaseModel):
    source: str
    import_id: str
    rows: int
    review_due_at: str
    expires_at: str

    @classmethod
    def of(cls, generation: ListGeneration) -> ListReviewView:
        return cls(
            source=generation.source.value,
            import_id=generation.import_id,
            rows=generation.rows,
            review_due_at=iso_utc(generation.review_due_at),
            expires_at=iso_utc(generation.expires_at),
        )


class ReviewsPage(BaseModel):
    reviews: list[ReviewView]
    lists: list[ListReviewView] = Field(description="the LEA's bulk lists due (first page only)")
    next_page_token: str | None


class ImportRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: ListSource
    file_name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
    rows_expected: Annotated[
        int,
        Field(ge=1, le=MAX_LIST_ROWS, description="data rows in the file; a file with another count fails"),
    ]


class ImportCreated(BaseModel):
    import_id: str
    status: str
    upload_url: str = Field(description="presigned S3 PUT of the CSV file (no headers needed)")
    expires_at: str = Field(description="when upload_url stops working")


class ImportCountsView(BaseModel):
    rows: int
    accepted: int
    rejected: int
    added: int
    changed: int
    unchanged: int
    removed: int


class FailureView(BaseModel):
    code: str
    message: str


class RejectView(BaseModel):
    line: int
    field: str
    message: str


class ImportView(BaseModel):
    import_id: str
    source: str
    file_name: str
    status: Literal["awaiting-upload", "loading", "succeeded", "failed"]
    rows_expected: int
    rows_loaded: int = Field(description="lines read so far")
    requested_by: str
    requested_at: str
    started_at: str | None
    finished_at: str | None
    counts: ImportCountsView | None
    failure: FailureView | None
    rejects: list[RejectView] = Field(description="the first 1,000 rejected rows, by line")
    rejects_total: int
    rejects_url: str | None = Field(description="presigned GET of every rejected row as CSV")
    rejects_url_expires_at: str | None

    @classmethod
    def of(cls, view: ImportState) -> ImportView:
        record: ImportRecord = view.record
        return cls(
            import_id=record.import_id,
            source=record.source.value,
            file_name=record.file_name,
            status=record.status.value,
            rows_expected=record.rows_expected,
            rows_loaded=min(record.rows_loaded, record.rows_expected + 1),
            requested_by=record.requested_by,
            requested_at=iso_utc(record.requested_at),
            started_at=iso_utc(record.started_at) if record.started_at else None,
            finished_at=iso_utc(record.finished_at) if record.finished_at else None,
            counts=ImportCountsView(**record.counts.model_dump()) if record.counts else None,
            failure=FailureView(**record.failure.model_dump()) if record.failure else None,
            rejects=[RejectView(**r.model_dump()) for r in record.rejects],
            rejects_total=record.rejects_total,
            rejects_url=view.rejects_url,
            rejects_url_expires_at=iso_utc(view.rejects_url_expires_at)
            if view.rejects_url_expires_at
            else None,
        )


def review_position(token: str | None) -> ReviewPosition | None:
    value = decode_token(token)
    if value is None:
        return None
    fields = ("review_due_at", "vrm", "voi_id")
    if set(value) != set(fields) or not all(
        isinstance(value[f], str) and 0 < len(value[f]) <= 64 for f in fields
    ):
        raise BadRequest("page_token", "is not a page token of this API")
    return ReviewPosition(**{f: value[f] for f in fields})


@router.post(
    "/voi",
    summary="Add a single VOI entry (R-VOI): review due in 28 days, deleted after 56 unless revised",
    responses=responses("the entry", VoiView, 409, status=201),
)
@requires(Role.VOI_MANAGER)
def create_entry(body: Annotated[CreateBody, Body()]) -> tuple[VoiView, int]:
    record = services().voi.create(state.principal(), _draft(body), retro_hunt=_hunt(body))
    state.used(result_count=1, voi_id=record.entry.voi_id, **_hunt_used(record))
    return VoiView.of(record), 201


@router.get(
    "/voi",
    summary="The live entries of a VRM the caller may see (R-CIRC), single and from lists",
    responses=responses("the entries", VoiEntries),
)
@requires(*READERS)
def entries_of_vrm(
    vrm: Annotated[str, Query(min_length=1, max_length=16, description="as written; normalised (R-VRM)")],
) -> VoiEntries:
    view = services().voi.by_vrm(state.principal(), vrm)
    state.used(result_count=len(view.entries))
    return VoiEntries(
        entries=[VoiView.of(r) for r in view.entries], white_listed=view.white_listed, next_page_token=None
    )


@router.get(
    "/voi/reviews",
    summary="R-VOI-28: the caller's LEA's live entries due for review, overdue first",
    responses=responses("a page of reviews", ReviewsPage),
)
@requires(Role.VOI_MANAGER)
def reviews_due(
    due_before: Annotated[
        str | None, Query(description="RFC 3339 with offset; default now, at most 28 days ahead", **DATE_TIME)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=LIMIT_DESCRIPTION)] = 50,
    page_token: Annotated[
        str | None, Query(max_length=MAX_TOKEN_CHARS, description=PAGE_TOKEN_DESCRIPTION)
    ] = None,
) -> ReviewsPage:
    page = services().voi.reviews(
        state.principal(),
        due_before=parse_instant("due_before", due_before),
        limit=limit,
        start=review_position(page_token),
    )
    state.used(result_count=len(page.entries) + len(page.lists))
    token = None
    if page.next_position is not None:
        token = encode_token(
            {
                "review_due_at": page.next_position.review_due_at,
                "vrm": page.next_position.vrm,
                "voi_id": page.next_position.voi_id,
            }
        )
    return ReviewsPage(
        reviews=[
            ReviewView(
                voi_id=r.entry.voi_id,
                vrm=r.entry.vrm,
                source=r.entry.source.value,
                category=r.entry.category,
                priority=r.entry.priority,
                review_due_at=iso_utc(r.entry.review_due_at),
                expires_at=iso_utc(r.entry.expires_at),
                overdue=r.entry.review_due_at <= page.as_of,
            )
            for r in page.entries
        ],
        lists=[ListReviewView.of(g) for g in page.lists],
        next_page_token=token,
    )


@router.get(
    "/voi/<voi_id>",
    summary="One live entry the caller may see (R-CIRC), with its revision history",
    responses=responses("the entry", VoiView, 404),
)
@requires(*READERS)
def get_entry(voi_id: Annotated[str, Path(pattern=VOI_ID)]) -> VoiView:
    record = services().voi.get(state.principal(), voi_id)
    state.used(result_count=1)
    return VoiView.of(record)


@router.put(
    "/voi/<voi_id>",
    summary="Revise an entry the caller's LEA owns (R-VOI-28/56: both clocks restart); history kept",
    responses=responses("the revised entry", VoiView, 404, 409),
)
@requires(Role.VOI_MANAGER)
def revise_entry(
    voi_id: Annotated[str, Path(pattern=VOI_ID)], body: Annotated[ChangesBody, Body()]
) -> VoiView:
    record = services().voi.revise(state.principal(), voi_id, _changes(body), retro_hunt=_hunt(body))
    state.used(result_count=1, **_hunt_used(record))
    return VoiView.of(record)


@router.delete(
    "/voi/<voi_id>",
    summary="Delete an entry the caller's LEA owns (R-VOI-DEL): it stops matching at once",
    responses=responses("the entry is deleted", DeletedVoi, 404, 409),
)
@requires(Role.VOI_MANAGER)
def delete_entry(voi_id: Annotated[str, Path(pattern=VOI_ID)]) -> DeletedVoi:
    record = services().voi.delete(state.principal(), voi_id)
    state.used(result_count=1, vrm=record.entry.vrm)
    return DeletedVoi(voi_id=voi_id, deleted=True)


@router.post(
    "/voi/imports",
    summary="Start a bulk list import (R-VOI-BULK, NATIONAL managers): upload the CSV to upload_url",
    responses=responses("the import, awaiting its upload", ImportCreated, status=201),
)
@requires(Role.VOI_MANAGER)
def request_import(body: Annotated[ImportRequestBody, Body()]) -> tuple[ImportCreated, int]:
    record, url = services().voi_imports.request(
        state.principal(), body.source, body.file_name, body.rows_expected
    )
    state.used(result_count=1, import_id=record.import_id)
    return (
        ImportCreated(
            import_id=record.import_id,
            status=record.status.value,
            upload_url=url,
            expires_at=iso_utc(record.upload_expires_at),
        ),
        201,
    )


@router.get(
    "/voi/imports/<import_id>",
    summary="An import's status, counts, timings and rejected rows (R-VOI-BULK)",
    responses=responses("the import", ImportView, 404),
)
@requires(Role.VOI_MANAGER)
def import_status(import_id: Annotated[str, Path(pattern=IMPORT_ID)]) -> ImportView:
    view = services().voi_imports.status(state.principal(), import_id)
    state.used(result_count=view.record.rejects_total)
    return ImportView.of(view)
