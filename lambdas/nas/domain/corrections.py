"""R-CORRECT: staff cannot delete reads, but can correct a misread VRM, with a reason. Every correction
is kept (history, never deleted); the latest supersedes the earlier ones. A read keeps the VRM the
camera read (`stored_vrm`, in the Parquet row, never rewritten); what every store shows is its
effective VRM: the latest correction's, or the stored one.

How each store learns of a correction (docs/reads.md): searches apply the corrections that
concern them as an overlay inside the plan (`Fix`, `search.SearchPlan.fixes`), so a search for the
corrected VRM finds the read and a search for the old one does not, within the same row limit; alert
views, exports and preservations read the read's current correction when they show it.

Pure: callers pass `now` and new ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from nas.domain.errors import Conflict, InvalidInput
from nas.domain.layout import ReadRef
from nas.domain.leas import NATIONAL
from nas.domain.models import VoiEntry
from nas.domain.vrm import canonical_vrm, normalise_vrm

MIN_REASON_CHARS = 10
MAX_REASON_CHARS = 1000
READ_KEY_SEPARATOR = "|"
"""Between camera id and read id in a read's key: neither may hold it (`types.Identifier`)."""


class CorrectionSource(StrEnum):
    """Where a correction was made."""

    SEARCH = "search"
    """By an investigator, from a read of their own search (`POST /reads/{read_id}/corrections`)."""
    SUBJECT_REQUEST = "subject-request"
    """By the DPO, granting a rectification request (R-SAR)."""


def read_key(camera_id: str, read_id: str) -> str:
    """One read: R-DUP identifies a read by its camera and read id."""
    return f"{camera_id}{READ_KEY_SEPARATOR}{read_id}"


@dataclass(frozen=True, slots=True)
class Correction:
    """One correction of one read, as kept for good. `version` counts the read's corrections (1 for
    the first); the highest is the read's current one."""

    correction_id: str
    ref: ReadRef
    captured_at: datetime
    stored_vrm: str
    """The VRM as the camera read it, in the stored row."""
    previous_vrm: str
    """The read's effective VRM before this correction."""
    vrm: str
    reason: str
    corrected_by: str
    corrected_at: datetime
    version: int
    source: CorrectionSource
    search_id: str | None = None
    alert_id: str | None = None
    subject_request_id: str | None = None

    @property
    def camera_id(self) -> str:
        return self.ref.camera_id

    @property
    def read_id(self) -> str:
        return self.ref.read_id

    @property
    def read_key(self) -> str:
        return read_key(self.ref.camera_id, self.ref.read_id)

    @property
    def vrm_canonical(self) -> str:
        return canonical_vrm(self.vrm)

    @property
    def stored_canonical(self) -> str:
        return canonical_vrm(self.stored_vrm)

    @property
    def changes_vrm(self) -> bool:
        """Whether the read now shows another VRM than the camera read (a read corrected back to its
        stored VRM is shown as read, its history kept)."""
        return self.vrm != self.stored_vrm


@dataclass(frozen=True, slots=True)
class CorrectionRequest:
    """What a correction needs beyond the read: the new VRM, why, and where it comes from."""

    vrm: str
    reason: str
    by: str
    source: CorrectionSource
    search_id: str | None = None
    alert_id: str | None = None
    subject_request_id: str | None = None


def require_reason(reason: str) -> str:
    text = reason.strip()
    if len(text) < MIN_REASON_CHARS:
        raise InvalidInput("reason", f"must be at least {MIN_REASON_CHARS} characters (R-CORRECT)")
    if len(text) > MAX_REASON_CHARS:
        raise InvalidInput("reason", f"must be at most {MAX_REASON_CHARS} characters")
    return text


def correct(
    current: Correction | None,
    request: CorrectionRequest,
    *,
    ref: ReadRef,
    captured_at: datetime,
    stored_vrm: str,
    correction_id: str,
    now: datetime,
) -> Correction:
    """The next correction of a read whose current one is `current` (None: never corrected). The new
    VRM is normalised (R-VRM; a 400 naming `vrm` when it is none) and must differ from what the read
    shows now (409: nothing to correct)."""
    try:
        vrm = normalise_vrm(request.vrm)
    except ValueError as exc:
        raise InvalidInput("vrm", str(exc)) from None
    reason = require_reason(request.reason)
    shown = current.vrm if current is not None else stored_vrm
    if vrm == shown:
        raise Conflict(f"the read already shows {vrm}")
    return Correction(
        correction_id=correction_id,
        ref=ref,
        captured_at=captured_at,
        stored_vrm=stored_vrm,
        previous_vrm=shown,
        vrm=vrm,
        reason=reason,
        corrected_by=request.by,
        corrected_at=now,
        version=(current.version + 1) if current is not None else 1,
        source=request.source,
        search_id=request.search_id,
        alert_id=request.alert_id,
        subject_request_id=request.subject_request_id,
    )


@dataclass(frozen=True, slots=True)
class Fix:
    """A read whose effective VRM is not the one stored, as a search applies it: the read (its
    partition, camera and read id) and the VRM it shows now."""

    ref: ReadRef
    vrm: str
    stored_vrm: str

    @property
    def vrm_canonical(self) -> str:
        return canonical_vrm(self.vrm)

    @classmethod
    def of(cls, correction: Correction) -> Fix:
        return cls(correction.ref, correction.vrm, correction.stored_vrm)


def fixes_of(current: list[Correction]) -> tuple[Fix, ...]:
    """The overlay of reads' current corrections: only those that change what the read shows, one per
    read, in a stable order."""
    by_read = {c.read_key: c for c in current if c.changes_vrm}
    return tuple(Fix.of(by_read[key]) for key in sorted(by_read))


def effective_vrm(stored_vrm: str, current: Correction | None) -> str:
    return current.vrm if current is not None else stored_vrm


@dataclass(frozen=True, slots=True)
class VoiMatch:
    """A live VOI entry of a corrected VRM, reported to the investigator (the read is history: no
    live alert is raised)."""

    voi_id: str
    source: str
    category: str
    action: str
    priority: int
    owner_lea: str
    circulated_to_read_lea: bool


def voi_matches(
    entries: Iterable[VoiEntry], *, now: datetime, viewer_lea: str, read_lea: str
) -> tuple[list[VoiMatch], int]:
    """The live entries a correction's new VRM is on that the viewer may see (R-CIRC: a sensitive
    entry only by its owner's and circulated LEAs' users, NATIONAL users when circulated nationally),
    and how many live entries were withheld."""
    shown: list[VoiMatch] = []
    withheld = 0
    for entry in entries:
        if not entry.is_live(now):
            continue
        visible = (
            not entry.sensitive
            or viewer_lea == entry.owner_lea
            or entry.circulation == (NATIONAL,)
            or viewer_lea in entry.circulation
        )
        if not visible:
            withheld += 1
            continue
        shown.append(
            VoiMatch(
                voi_id=entry.voi_id,
                source=entry.source.value,
                category=entry.category,
                action=entry.action.value,
                priority=entry.priority,
                owner_lea=entry.owner_lea,
                circulated_to_read_lea=entry.circulated_to(read_lea),
            )
        )
    return sorted(shown, key=lambda m: (m.priority, m.voi_id)), withheld
