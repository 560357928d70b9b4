"""R-PRESERVE: reads preserved for a criminal case (CPIA) by a senior investigator: each read's row,
corrections applied (R-CORRECT), and its images, copied into the evidence bucket under a legal hold,
with a manifest naming who, when, why, the case, the source search and the SHA-256 of every file.

Where the copies live, and why R-RET-367 does not delete them: `preservations/<id>/…` of the evidence
bucket, which is no retained prefix (`catalogue.RETAINED_PREFIXES`): the retention check never lists
it, and lifecycle's expiry rules are on the reads and quarantine buckets. Every object is written with
a legal hold (Object Lock), so nothing can delete it, not even by version, until the hold is released.
On release the hold comes off and the objects are tagged released; the evidence bucket's lifecycle rule
for tagged preservations expires them (current version after a day, then the noncurrent one a day
later): a released copy is gone within about three days. The original read keeps its own deadline.

Object keys hold no personal data (a read's place in the preservation, not its read id, which embeds
the camera's id): keys appear in access logs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from nas.catalogue import PRESERVATIONS_PREFIX
from nas.domain.corrections import Correction
from nas.domain.errors import InvalidInput
from nas.domain.stored import StoredRow
from nas.domain.timefmt import iso_utc

MAX_READS = 1000
MIN_REASON_CHARS = 10
MANIFEST_FORMAT = "nas.preservation-manifest.v1"
READ_FORMAT = "nas.preserved-read.v1"


class FileKind(StrEnum):
    READ = "read"
    PLATE = "plate"
    OVERVIEW = "overview"


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def object_key(preservation_id: str, n: int, kind: FileKind) -> str:
    suffix = "json" if kind is FileKind.READ else "jpg"
    name = "read" if kind is FileKind.READ else kind.value
    return f"{PRESERVATIONS_PREFIX}{preservation_id}/{n:04d}-{name}.{suffix}"


def manifest_key(preservation_id: str) -> str:
    return f"{PRESERVATIONS_PREFIX}{preservation_id}/manifest.json"


@dataclass(frozen=True, slots=True)
class PreservedFile:
    kind: FileKind
    key: str
    sha256: str
    bytes: int
    version_id: str | None = None


@dataclass(frozen=True, slots=True)
class PreservedRead:
    n: int
    read_id: str
    camera_id: str
    vrm: str
    """Effective VRM (corrections applied)."""
    original_vrm: str
    captured_at: datetime
    files: tuple[PreservedFile, ...]
    current_vrm: str | None = None
    """The VRM the read shows now, when read back (R-CORRECT): a correction made after the copy is
    shown beside it; the locked copy itself is evidence as preserved and is never rewritten."""

    @property
    def corrected(self) -> bool:
        return self.vrm != self.original_vrm


@dataclass(frozen=True, slots=True)
class SourceSearch:
    search_id: str
    purpose: str
    reason: str
    case_ref: str


@dataclass(frozen=True, slots=True)
class Preservation:
    preservation_id: str
    case_ref: str
    reason: str
    created_by: str
    created_lea: str
    created_at: datetime
    search: SourceSearch
    reads: tuple[PreservedRead, ...]
    manifest_sha256: str | None = None
    released_at: datetime | None = None
    released_by: str | None = None
    release_reason: str | None = None
    counts: tuple[int, int] | None = None
    """(reads, files) as recorded, for a preservation listed without its reads."""

    @property
    def released(self) -> bool:
        return self.released_at is not None

    @property
    def read_count(self) -> int:
        return self.counts[0] if self.counts is not None and not self.reads else len(self.reads)

    @property
    def files(self) -> int:
        if self.counts is not None and not self.reads:
            return self.counts[1]
        return sum(len(r.files) for r in self.reads)

    def manifest(self) -> dict[str, Any]:
        """The manifest written (locked) beside the copies; release is recorded in the table."""
        return {
            "format": MANIFEST_FORMAT,
            "preservation_id": self.preservation_id,
            "case_ref": self.case_ref,
            "reason": self.reason,
            "created_by": self.created_by,
            "created_lea": self.created_lea,
            "created_at": iso_utc(self.created_at),
            "search": {
                "search_id": self.search.search_id,
                "purpose": self.search.purpose,
                "reason": self.search.reason,
                "case_ref": self.search.case_ref,
            },
            "reads": [
                {
                    "n": r.n,
                    "read_id": r.read_id,
                    "camera_id": r.camera_id,
                    "vrm": r.vrm,
                    "original_vrm": r.original_vrm,
                    "corrected": r.corrected,
                    "captured_at": iso_utc(r.captured_at),
                    "files": [
                        {"kind": f.kind.value, "key": f.key, "sha256": f.sha256, "bytes": f.bytes}
                        for f in r.files
                    ],
                }
                for r in self.reads
            ],
        }


def require_request(read_ids: list[str], case_ref: str, reason: str) -> None:
    if not read_ids:
        raise InvalidInput("read_ids", "name at least one read")
    if len(read_ids) > MAX_READS:
        raise InvalidInput("read_ids", f"at most {MAX_READS} reads a preservation")
    if len(set(read_ids)) != len(read_ids):
        raise InvalidInput("read_ids", "names a read twice")
    if len(reason.strip()) < MIN_REASON_CHARS:
        raise InvalidInput("reason", f"must be at least {MIN_REASON_CHARS} characters")
    if not case_ref.strip():
        raise InvalidInput("case_ref", "is required")


def read_document(row: StoredRow, current: Correction | None, history: list[Correction]) -> dict[str, Any]:
    """The preserved read: its stored row as evidence (the camera and its site included: the copy is
    for the case, not for a data subject), the VRM it shows (corrections applied) and every correction."""
    return {
        "format": READ_FORMAT,
        "read_id": row.read_id,
        "camera_id": row.camera_id,
        "vrm": current.vrm if current is not None else row.vrm,
        "original_vrm": row.vrm,
        "corrected": current is not None and current.vrm != row.vrm,
        "captured_at": iso_utc(row.captured_at),
        "lea": row.lea,
        "source": row.source,
        "lat": row.lat,
        "lon": row.lon,
        "direction": row.direction,
        "lane": row.lane,
        "confidence": row.confidence,
        "late": row.late,
        "ingested_at": iso_utc(row.ingested_at),
        "corrections": [
            {
                "correction_id": c.correction_id,
                "previous_vrm": c.previous_vrm,
                "vrm": c.vrm,
                "reason": c.reason,
                "corrected_by": c.corrected_by,
                "corrected_at": iso_utc(c.corrected_at),
            }
            for c in history
        ],
    }
