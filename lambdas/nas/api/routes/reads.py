"""`GET /reads/{read_id}`, `GET /reads/{read_id}/images/{kind}` and `POST /reads/{read_id}/corrections`
for investigators (SPEC §6; R-REASON, R-CORRECT). A read is opened only as a row of the caller's own
search (`search_id`); anything else is 404. The search's purpose, reason and case reference are carried
into the audit record of every view (a correction's own reason is its body's).

Images are JPEG bytes (`image/jpeg`; through API Gateway, send `Accept: image/jpeg`, a binary media
type of the REST API), read by a byte-range GET of the pack: the pack itself is never exposed, and the
read view shows only whether each image is held, never the pack's key.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from nas.api import state
from nas.api.auth import requires
from nas.api.docs import BINARY, responses
from nas.api.routes.searches import SEARCH_ID_PATTERN, SEARCH_ROLES
from nas.api.wiring import services
from nas.domain.corrections import MAX_REASON_CHARS, MIN_REASON_CHARS, Correction, VoiMatch
from nas.domain.search import SearchRecord
from nas.domain.stored import ImageKind
from nas.domain.timefmt import iso_utc
from nas.domain.types import Identifier
from nas.services.reads import ReadView

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped

READ_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
IMAGE_MEDIA_TYPE = "image/jpeg"
SearchId = Annotated[
    str, Query(pattern=SEARCH_ID_PATTERN, description="the caller's own search whose rows hold the read")
]
ReadId = Annotated[str, Path(pattern=READ_ID_PATTERN)]


class CorrectionView(BaseModel):
    correction_id: str
    previous_vrm: str
    vrm: str
    reason: str
    corrected_by: str
    corrected_at: str
    source: str
    search_id: str | None
    alert_id: str | None
    subject_request_id: str | None

    @classmethod
    def of(cls, c: Correction) -> CorrectionView:
        return cls(
            correction_id=c.correction_id,
            previous_vrm=c.previous_vrm,
            vrm=c.vrm,
            reason=c.reason,
            corrected_by=c.corrected_by,
            corrected_at=iso_utc(c.corrected_at),
            source=c.source.value,
            search_id=c.search_id,
            alert_id=c.alert_id,
            subject_request_id=c.subject_request_id,
        )


class Images(BaseModel):
    """Which images the read has (fetch them from `/reads/{read_id}/images/{kind}`)."""

    plate: bool
    overview: bool


class ReadDetail(BaseModel):
    """A read of the caller's search: the search row's fields (the VRM as corrected), what the row
    did not show, and every correction (R-CORRECT), oldest first."""

    read_id: str
    vrm: str
    original_vrm: str = Field(description="the VRM as the camera read it")
    corrected: bool
    captured_at: str
    camera_id: str
    lea: str
    lat: float | None
    lon: float | None
    direction: str | None
    confidence: int | None
    source: str
    lane: int | None
    late: bool
    ingested_at: str
    read_ref: str
    images: Images
    corrections: list[CorrectionView]

    @classmethod
    def of(cls, view: ReadView) -> ReadDetail:
        row = view.row
        return cls(
            read_id=row.read_id,
            vrm=view.vrm,
            original_vrm=row.vrm,
            corrected=view.corrected,
            captured_at=iso_utc(row.captured_at),
            camera_id=row.camera_id,
            lea=row.lea,
            lat=row.lat,
            lon=row.lon,
            direction=row.direction,
            confidence=row.confidence,
            source=row.source,
            lane=row.lane,
            late=row.late,
            ingested_at=iso_utc(row.ingested_at),
            read_ref=row.ref.encode(),
            images=Images(plate=row.plate is not None, overview=row.overview is not None),
            corrections=[CorrectionView.of(c) for c in view.history],
        )


class CorrectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    search_id: Annotated[
        str, Field(pattern=SEARCH_ID_PATTERN, description="the search the read was found by")
    ]
    vrm: Annotated[str, Field(min_length=1, max_length=20, description="the VRM the plate really shows")]
    reason: Annotated[
        str, Field(min_length=MIN_REASON_CHARS, max_length=MAX_REASON_CHARS, description="why (R-CORRECT)")
    ]
    alert_id: Identifier | None = Field(
        default=None, description="the alert whose misread outcome this correction answers"
    )


class VoiMatchView(BaseModel):
    voi_id: str
    source: str
    category: str
    action: str
    priority: int
    owner_lea: str
    circulated_to_read_lea: bool

    @classmethod
    def of(cls, m: VoiMatch) -> VoiMatchView:
        return cls(**{name: getattr(m, name) for name in cls.model_fields})


class CorrectionResult(BaseModel):
    correction: CorrectionView
    read: ReadDetail
    voi_matches: list[VoiMatchView] = Field(
        description="live VOI entries of the corrected VRM: no alert is raised (the read is history)"
    )
    voi_matches_withheld: int = Field(description="live sensitive entries not circulated to the caller's LEA")


def _carry_why(search: SearchRecord, *, reason: bool = True) -> None:
    """R-REASON: a read view carries its search's purpose, reason and case reference."""
    why: dict[str, str | None] = {"purpose": search.why.purpose.value, "case_ref": search.why.case_ref}
    if reason:
        why["reason"] = search.why.reason
    state.current().why.update(why)


@router.get(
    "/reads/<read_id>",
    summary="One read of the caller's own search: its row, images held, and corrections",
    responses=responses("the read", ReadDetail, 404),
)
@requires(*SEARCH_ROLES)
def get_read(read_id: ReadId, search_id: SearchId) -> ReadDetail:
    view = services().reads.view(state.principal(), search_id, read_id)
    _carry_why(view.search)
    state.used(result_count=1, camera_id=view.row.camera_id, vrm=view.vrm)
    return ReadDetail.of(view)


@router.get(
    "/reads/<read_id>/images/<kind>",
    summary="A read's plate or overview image (JPEG bytes, by a byte-range read of its pack)",
    responses=responses(
        "the JPEG (send Accept: image/jpeg)", None, 404, content={IMAGE_MEDIA_TYPE: {"schema": BINARY}}
    ),
)
@requires(*SEARCH_ROLES)
def get_image(read_id: ReadId, kind: Annotated[ImageKind, Path()], search_id: SearchId) -> Response[Any]:
    image = services().reads.image(state.principal(), search_id, read_id, kind)
    _carry_why(image.view.search)
    state.used(
        result_count=1,
        camera_id=image.view.row.camera_id,
        bytes=len(image.body),
        sha256=hashlib.sha256(image.body).hexdigest(),
    )
    # Base64 text marked as such, not bytes: response validation would try to decode bytes as UTF-8.
    response: Response[Any] = Response(
        status_code=200,
        content_type=IMAGE_MEDIA_TYPE,
        body=base64.b64encode(image.body).decode("ascii"),
        headers={"Cache-Control": "no-store"},
    )
    response.base64_encoded = True
    return response


@router.post(
    "/reads/<read_id>/corrections",
    summary="Correct a misread VRM (R-CORRECT): every store shows it from now on; history is kept",
    responses=responses("the correction and the read as now shown", CorrectionResult, 404, 409, status=201),
    status_code=201,
)
@requires(*SEARCH_ROLES)
def correct_read(read_id: ReadId, request: Annotated[CorrectionBody, Body()]) -> CorrectionResult:
    made = services().reads.correct(
        state.principal(),
        request.search_id,
        read_id,
        vrm=request.vrm,
        reason=request.reason,
        alert_id=request.alert_id,
    )
    _carry_why(made.view.search, reason=False)  # the correction's reason is its own (the body's)
    state.used(
        result_count=1,
        correction_id=made.correction.correction_id,
        previous_vrm=made.correction.previous_vrm,
        vrm=made.correction.vrm,
        voi_matches=len(made.voi_matches) + made.voi_matches_withheld,
    )
    return CorrectionResult(
        correction=CorrectionView.of(made.correction),
        read=ReadDetail.of(made.view),
        voi_matches=[VoiMatchView.of(m) for m in made.voi_matches],
        voi_matches_withheld=made.voi_matches_withheld,
    )
