"""`POST /preservations`, `GET /preservations/{id}`, `GET /preservations?case_ref=` and
`DELETE /preservations/{id}` for senior investigators (R-PRESERVE). A preservation copies reads of the
caller's own search, corrections applied, with their images, into the evidence bucket under a legal
hold, with a manifest; `DELETE` releases it (the holds come off; the copies then expire by the
evidence bucket's rule for released preservations) and needs a reason, as a query parameter (a DELETE
takes no body)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from nas.api import state
from nas.api.auth import requires
from nas.api.docs import responses
from nas.api.routes.reads import READ_ID_PATTERN
from nas.api.routes.searches import SEARCH_ID_PATTERN
from nas.api.wiring import services
from nas.domain.preservations import MAX_READS, MIN_REASON_CHARS, Preservation
from nas.domain.roles import Role
from nas.domain.timefmt import iso_utc
from nas.domain.types import CaseRef

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped

PRESERVATION_ID_PATTERN = r"^[A-Za-z0-9-]{1,64}$"
CASE_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9/._-]{2,63}$"


class PreservationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    search_id: Annotated[
        str, Field(pattern=SEARCH_ID_PATTERN, description="the search the reads were found by")
    ]
    read_ids: Annotated[
        list[Annotated[str, Field(pattern=READ_ID_PATTERN)]],
        Field(min_length=1, max_length=MAX_READS, description=f"reads of that search, at most {MAX_READS}"),
    ]
    case_ref: CaseRef
    reason: Annotated[
        str, Field(min_length=MIN_REASON_CHARS, max_length=1000, description="why (R-PRESERVE)")
    ]


class PreservedFileView(BaseModel):
    kind: str
    key: str
    sha256: str
    bytes: int


class PreservedReadView(BaseModel):
    n: int
    read_id: str
    camera_id: str
    vrm: str
    original_vrm: str
    corrected: bool
    current_vrm: str = Field(
        description="the VRM the read shows now (R-CORRECT); the preserved copy holds `vrm` as preserved"
    )
    captured_at: str
    files: list[PreservedFileView]


class PreservationSummary(BaseModel):
    preservation_id: str
    case_ref: str
    reason: str
    created_by: str
    created_lea: str
    created_at: str
    search_id: str
    reads: int
    files: int
    manifest_sha256: str | None
    released_at: str | None
    released_by: str | None
    release_reason: str | None

    @classmethod
    def of(cls, p: Preservation) -> PreservationSummary:
        return cls(
            preservation_id=p.preservation_id,
            case_ref=p.case_ref,
            reason=p.reason,
            created_by=p.created_by,
            created_lea=p.created_lea,
            created_at=iso_utc(p.created_at),
            search_id=p.search.search_id,
            reads=p.read_count,
            files=p.files,
            manifest_sha256=p.manifest_sha256,
            released_at=iso_utc(p.released_at) if p.released_at else None,
            released_by=p.released_by,
            release_reason=p.release_reason,
        )


class PreservationView(PreservationSummary):
    """The manifest: who, when, why, the case, the source search, and every file's SHA-256."""

    search_purpose: str
    search_reason: str
    search_case_ref: str
    preserved_reads: list[PreservedReadView]

    @classmethod
    def of_preservation(cls, p: Preservation) -> PreservationView:
        return cls(
            **PreservationSummary.of(p).model_dump(),
            search_purpose=p.search.purpose,
            search_reason=p.search.reason,
            search_case_ref=p.search.case_ref,
            preserved_reads=[
                PreservedReadView(
                    n=r.n,
                    read_id=r.read_id,
                    camera_id=r.camera_id,
                    vrm=r.vrm,
                    original_vrm=r.original_vrm,
                    corrected=r.corrected,
                    current_vrm=r.current_vrm or r.vrm,
                    captured_at=iso_utc(r.captured_at),
                    files=[
                        PreservedFileView(kind=f.kind.value, key=f.key, sha256=f.sha256, bytes=f.bytes)
                        for f in r.files
                    ],
                )
                for r in p.reads
            ],
        )


class PreservationList(BaseModel):
    preservations: list[PreservationSummary]
    next_page_token: str | None = None


PreservationId = Annotated[str, Path(pattern=PRESERVATION_ID_PATTERN)]


@router.post(
    "/preservations",
    summary="Preserve reads of the caller's search for a case (R-PRESERVE): copies under a legal hold",
    responses=responses("the preservation and its manifest", PreservationView, 404, status=201),
    status_code=201,
)
@requires(Role.SENIOR_INVESTIGATOR)
def preserve(request: Annotated[PreservationBody, Body()]) -> PreservationView:
    made = services().preservations.preserve(
        state.principal(),
        search_id=request.search_id,
        read_ids=request.read_ids,
        case_ref=request.case_ref,
        reason=request.reason,
    )
    state.current().why["purpose"] = made.search.purpose
    state.used(result_count=len(made.reads), preservation_id=made.preservation_id, files=made.files)
    return PreservationView.of_preservation(made)


@router.get(
    "/preservations/<preservation_id>",
    summary="A preservation's manifest (R-PRESERVE)",
    responses=responses("the manifest", PreservationView, 404),
)
@requires(Role.SENIOR_INVESTIGATOR)
def get_preservation(preservation_id: PreservationId) -> PreservationView:
    found = services().preservations.get(state.principal(), preservation_id)
    state.current().why["case_ref"] = found.case_ref
    state.used(result_count=1)
    return PreservationView.of_preservation(found)


@router.get(
    "/preservations",
    summary="The preservations of a case, newest first (R-PRESERVE)",
    responses=responses("the case's preservations", PreservationList),
)
@requires(Role.SENIOR_INVESTIGATOR)
def list_preservations(
    case_ref: Annotated[str, Query(pattern=CASE_REF_PATTERN, description="the case reference")],
) -> PreservationList:
    found = services().preservations.by_case(state.principal(), case_ref)
    state.current().why["case_ref"] = case_ref
    state.used(result_count=len(found))
    return PreservationList(preservations=[PreservationSummary.of(p) for p in found])


@router.delete(
    "/preservations/<preservation_id>",
    summary="Release a preservation: its legal holds come off and its copies then expire (R-PRESERVE)",
    responses=responses("the preservation, released", PreservationView, 404, 409),
)
@requires(Role.SENIOR_INVESTIGATOR)
def release_preservation(
    preservation_id: PreservationId,
    reason: Annotated[
        str, Query(min_length=MIN_REASON_CHARS, max_length=1000, description="why it is released")
    ],
) -> PreservationView:
    released = services().preservations.release(state.principal(), preservation_id, reason)
    state.current().why["case_ref"] = released.case_ref
    state.used(result_count=1)
    return PreservationView.of_preservation(released)
