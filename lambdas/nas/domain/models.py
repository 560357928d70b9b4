"""Records of the specification as strict pydantic v2 models: unknown fields, wrong types and
out-of-range values are validation errors naming the field."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nas.domain import policy
from nas.domain.errors import FieldRuleError
from nas.domain.leas import NATIONAL
from nas.domain.policy import InvestigationLevel, LiveAuthorisation
from nas.domain.types import (
    STANDARD_BASE64,
    CaseRef,
    Identifier,
    LeaCode,
    LeaOrNational,
    UtcDatetime,
    Vrm,
    jpeg_base64,
)

PLATE_IMAGE_MAX_BYTES = 64 * 1024  # NASPLE plate patches are about 3 KB
OVERVIEW_IMAGE_MAX_BYTES = 512 * 1024  # NASPLE overviews are about 25 KB; Kinesis records cap at 1 MiB


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


# --- R-READ ---------------------------------------------------------------------------------------


class CameraSource(StrEnum):
    STATIC = "static"
    MOVEABLE = "moveable"
    MULTI_LANE = "multi-lane"
    CCTV = "cctv"
    MOBILE = "mobile"
    COVERT = "covert"


class Direction(StrEnum):
    N = "N"
    NE = "NE"
    E = "E"
    SE = "SE"
    S = "S"
    SW = "SW"
    W = "W"
    NW = "NW"


class Location(StrictModel):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class Camera(StrictModel):
    """R-CAMERA: a registered camera. Its site is sensitive: never shown in exports or reports."""

    camera_id: Identifier
    lea: LeaCode
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    source: CameraSource
    active: bool


READ_SCHEMA = "nas.read.v1"


class Read(StrictModel):
    """A camera read, schema `nas.read.v1`. `vrm` is normalised (R-VRM), `captured_at` is in UTC and
    images are decoded JPEG bytes."""

    # `schema` would shadow a BaseModel attribute, hence the alias.
    schema_: Literal["nas.read.v1"] = Field(alias="schema")
    read_id: Identifier
    vrm: Vrm
    captured_at: UtcDatetime
    camera_id: Identifier
    lea: LeaCode
    source: CameraSource
    location: Location | None = None
    direction: Direction | None = None
    lane: Annotated[int, Field(ge=1, le=20)] | None = None
    confidence: Annotated[int, Field(ge=0, le=100)] | None = None
    plate_image: Annotated[bytes, jpeg_base64(PLATE_IMAGE_MAX_BYTES), STANDARD_BASE64] | None = None
    overview_image: Annotated[bytes, jpeg_base64(OVERVIEW_IMAGE_MAX_BYTES), STANDARD_BASE64] | None = None

    @model_validator(mode="after")
    def _mobile_reads_carry_location(self) -> Read:
        if self.source is CameraSource.MOBILE and self.location is None:
            raise FieldRuleError("location", "location is required for mobile cameras")
        return self


# --- R-VOI ----------------------------------------------------------------------------------------


class VoiSource(StrEnum):
    PNC = "pnc"
    DVLA = "dvla"
    MIB = "mib"
    LOCAL = "local"


BULK_SOURCES = frozenset({VoiSource.DVLA, VoiSource.MIB})
"""Sources whose hits the DVLA white list suppresses (R-WHITE)."""


class VoiAction(StrEnum):
    STOP = "stop"
    OBSERVE = "observe"
    REPORT = "report"


# The fields a VOI manager or a list row supplies, shared by entries, API bodies and import rows.
VoiCategory = Annotated[str, Field(min_length=2, max_length=40, pattern=r"^[a-z][a-z-]*$")]
VoiPriority = Annotated[int, Field(ge=1, le=3)]
VOI_REASON_MAX_CHARS = 500
VoiReason = Annotated[str, Field(min_length=3, max_length=VOI_REASON_MAX_CHARS)]
"""R-VOI: why the vehicle is of interest; persons are referred to by PNC reference, never by name."""
PncRef = Annotated[str, Field(pattern=r"^\d{2}/\d{1,7}[A-Z]$")]
Circulation = Annotated[tuple[LeaOrNational, ...], Field(min_length=1, max_length=100)]


def check_circulation(circulation: tuple[str, ...]) -> None:
    """R-CIRC: either NATIONAL alone or a list of LEA codes, each named once."""
    if NATIONAL in circulation and len(circulation) > 1:
        raise FieldRuleError("circulation", "circulation is either NATIONAL or a list of LEA codes, not both")
    if len(set(circulation)) != len(circulation):
        raise FieldRuleError("circulation", "circulation names an LEA more than once")


class VoiEntry(StrictModel):
    """A vehicle of interest (R-VOI). Review and expiry dates are derived from the last revision and
    checked here, so an entry whose clocks were not reset cannot exist (R-VOI-28, R-VOI-56)."""

    voi_id: Identifier
    vrm: Vrm
    source: VoiSource
    category: VoiCategory
    action: VoiAction
    priority: VoiPriority
    reason: VoiReason
    pnc_ref: PncRef | None = None
    circulation: Circulation
    owner_lea: LeaOrNational
    sensitive: bool = False
    created_by: Annotated[str, Field(min_length=1, max_length=128)]
    created_at: UtcDatetime
    last_revised_at: UtcDatetime
    review_due_at: UtcDatetime
    expires_at: UtcDatetime

    @model_validator(mode="after")
    def _consistent(self) -> VoiEntry:
        check_circulation(self.circulation)
        if self.last_revised_at < self.created_at:
            raise FieldRuleError("last_revised_at", "last_revised_at is before created_at")
        if self.review_due_at != policy.voi_review_due_at(self.last_revised_at):
            raise FieldRuleError(
                "review_due_at", "review_due_at must be last_revised_at + 28 days (R-VOI-28)"
            )
        if self.expires_at != policy.voi_expires_at(self.last_revised_at):
            raise FieldRuleError("expires_at", "expires_at must be last_revised_at + 56 days (R-VOI-56)")
        return self

    def is_live(self, now: datetime) -> bool:
        return policy.voi_is_live(self.expires_at, now)

    def circulated_to(self, lea: str) -> bool:
        """R-CIRC: does a read from `lea` raise an alert on this entry?"""
        return self.circulation == (NATIONAL,) or lea in self.circulation


# --- R-ALERT / R-HIT ------------------------------------------------------------------------------

_ALERT_NAMESPACE = uuid.UUID("6f1c8a52-0d4e-4d0b-9a57-3f1d2c9e8b10")


def alert_id_for(camera_id: str, read_id: str, voi_id: str) -> str:
    """R-DUP: the same read (camera, read_id) against the same entry always yields the same id, so a
    redelivered read cannot raise a second alert."""
    return str(uuid.uuid5(_ALERT_NAMESPACE, f"{camera_id}\x1f{read_id}\x1f{voi_id}"))


class Outcome(StrEnum):
    CONFIRMED = "confirmed"
    MISREAD = "misread"
    CLONED_PLATE = "cloned-plate"
    NO_TRACE = "no-trace"
    NO_ACTION = "no-action"


class Alert(StrictModel):
    """A hit of a live VOI entry circulated to the read's LEA; images are never inline."""

    alert_id: str
    read_id: Identifier
    vrm: Vrm
    captured_at: UtcDatetime
    camera_id: Identifier
    lea: LeaCode
    late: bool = False
    voi_id: Identifier
    source: VoiSource
    category: str
    action: VoiAction
    priority: Annotated[int, Field(ge=1, le=3)]
    reason: str
    owner_lea: LeaOrNational
    circulation: tuple[LeaOrNational, ...]
    sensitive: bool
    raised_at: UtcDatetime
    outcome: Outcome | None = None
    retro: bool = False
    """Raised by a retro-hunt over stored reads (issue 10), not by the live match of the read."""

    @model_validator(mode="after")
    def _deterministic_id(self) -> Alert:
        if self.alert_id != alert_id_for(self.camera_id, self.read_id, self.voi_id):
            raise FieldRuleError("alert_id", "alert_id must be derived from camera_id, read_id and voi_id")
        return self

    @classmethod
    def raise_for(
        cls, read: Read, entry: VoiEntry, raised_at: datetime, *, arrived_at: datetime | None = None
    ) -> Alert:
        """`late` is judged at the read's arrival in the stream when known (R-LATE: the clock both
        consumers share), else at `raised_at`."""
        return cls(
            alert_id=alert_id_for(read.camera_id, read.read_id, entry.voi_id),
            read_id=read.read_id,
            vrm=read.vrm,
            captured_at=read.captured_at,
            camera_id=read.camera_id,
            lea=read.lea,
            late=policy.is_late(read.captured_at, arrived_at or raised_at),
            voi_id=entry.voi_id,
            source=entry.source,
            category=entry.category,
            action=entry.action,
            priority=entry.priority,
            reason=entry.reason,
            owner_lea=entry.owner_lea,
            circulation=entry.circulation,
            sensitive=entry.sensitive,
            raised_at=raised_at,
        )


# --- R-AUTHZ --------------------------------------------------------------------------------------


class Authorisation(StrictModel):
    """A senior officer's time-limited grant of lookback beyond 90 days for one user and case (R-AUTHZ).
    `revoked_at` is set when it is revoked; it is never deleted (it is the record of what was allowed)."""

    authorisation_id: Identifier
    grantee: Annotated[str, Field(min_length=1, max_length=128)]
    granted_by: Annotated[str, Field(min_length=1, max_length=128)]
    granted_by_lea: LeaOrNational
    case_ref: CaseRef
    investigation_level: InvestigationLevel
    max_lookback_days: Annotated[int, Field(ge=1, le=365)]
    granted_at: UtcDatetime
    expires_at: UtcDatetime
    reason: Annotated[str, Field(min_length=10, max_length=1000)]
    revoked_at: UtcDatetime | None = None
    revoked_by: Annotated[str, Field(min_length=1, max_length=128)] | None = None

    @model_validator(mode="after")
    def _rules(self) -> Authorisation:
        if self.grantee == self.granted_by:
            raise FieldRuleError("grantee", "nobody may authorise themselves (R-AUTHZ)")
        if self.investigation_level not in policy.LEVELS_ALLOWING_AUTHORISED_LOOKBACK:
            raise FieldRuleError(
                "investigation_level", "only serious-complex and major searches may reach beyond 90 days"
            )
        if not self.granted_at < self.expires_at <= self.granted_at + policy.MAX_AUTHORISATION_VALIDITY:
            raise FieldRuleError(
                "expires_at", "expires_at must be after granted_at and at most 30 days later (R-AUTHZ)"
            )
        if (self.revoked_at is None) != (self.revoked_by is None):
            raise FieldRuleError("revoked_by", "a revocation names who revoked it and when")
        return self

    def as_live(self) -> LiveAuthorisation:
        return LiveAuthorisation(
            grantee=self.grantee,
            granted_by=self.granted_by,
            case_ref=self.case_ref,
            investigation_level=self.investigation_level,
            max_lookback=timedelta(days=self.max_lookback_days),
            valid_from=self.granted_at,
            expires_at=self.expires_at,
            revoked_at=self.revoked_at,
        )
