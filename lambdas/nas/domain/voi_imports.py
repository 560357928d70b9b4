"""Bulk list imports (R-VOI-BULK): an import's record and status, how a file is cut into chunks,
how a rejected row names its line, and when a loaded file may replace its source's list. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from nas.domain.types import Identifier, LeaOrNational, UtcDatetime
from nas.domain.voi_lists import ListGeneration, ListSource

UPLOAD_URL_LIFETIME = timedelta(minutes=30)
"""How long the presigned PUT lasts (the issue allows up to an hour); a list of 10 million rows is
about 600 MB, which a 5 Mbit/s line uploads in about 16 minutes."""
STALL_AFTER = timedelta(hours=6)
"""A load showing no completion by then is reported failed (`stalled`); its items expire anyway."""
CHUNK_BYTES = 16 * 1024 * 1024
"""Bytes of the file one load task parses: about 250,000 rows, a few seconds of one Lambda."""
REJECTS_SHOWN = 1000
MAX_REJECT_MESSAGE_CHARS = 200


class ImportStatus(StrEnum):
    AWAITING_UPLOAD = "awaiting-upload"
    LOADING = "loading"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ImportCounts(BaseModel):
    """rows = accepted + rejected; accepted = added + changed + unchanged (against the list it
    replaced); removed: rows of the replaced list the new one lacks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0


class RowReject(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line: Annotated[int, Field(ge=1)]
    field: str
    message: str


class ImportFailure(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    message: str


class ChunkSpan(BaseModel):
    """Bytes [start, end) of the file: the chunk holds every line that starts in them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: Annotated[int, Field(ge=0)]
    start: Annotated[int, Field(ge=0)]
    end: Annotated[int, Field(ge=0)]


class ImportPlan(BaseModel):
    """How one import loads: the object (pinned by its ETag), its header, its chunks and the layout
    of the generation it builds, and the generation it replaces."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    import_id: Identifier
    key: str
    etag: str
    size: int
    columns: tuple[str, ...]
    chunks: tuple[ChunkSpan, ...]
    generation: ListGeneration
    previous: ListGeneration | None = None


class ImportRecord(BaseModel):
    """An import as stored and reported by `GET /voi/imports/{id}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    import_id: Identifier
    source: ListSource
    file_name: str
    rows_expected: int
    requested_by: str
    owner_lea: LeaOrNational
    requested_at: UtcDatetime
    upload_expires_at: UtcDatetime
    status: ImportStatus = ImportStatus.AWAITING_UPLOAD
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    rows_loaded: int = 0
    counts: ImportCounts | None = None
    failure: ImportFailure | None = None
    rejects: tuple[RowReject, ...] = ()
    rejects_total: int = 0
    rejects_key: str | None = None

    @property
    def order(self) -> str:
        """Position among imports of the same source: the later request wins a race."""
        return f"{self.requested_at.isoformat()}#{self.import_id}"

    def as_seen(self, now: datetime) -> ImportRecord:
        """The record as reported at `now`: an upload that never came, or a load that stopped, is a
        failure (nothing of it can replace the list any more)."""
        if self.status is ImportStatus.AWAITING_UPLOAD and now >= self.upload_expires_at:
            return self.model_copy(
                update={
                    "status": ImportStatus.FAILED,
                    "failure": ImportFailure(
                        code="upload-expired", message="no file was uploaded before the upload URL expired"
                    ),
                }
            )
        if self.status is ImportStatus.LOADING and self.started_at and now - self.started_at > STALL_AFTER:
            return self.model_copy(
                update={
                    "status": ImportStatus.FAILED,
                    "failure": ImportFailure(code="stalled", message="the load did not complete"),
                }
            )
        return self


def plan_chunks(size: int, data_start: int, chunk_bytes: int = CHUNK_BYTES) -> tuple[ChunkSpan, ...]:
    """The chunks of a file whose data lines start at `data_start` (after the header)."""
    if size <= data_start:
        return ()
    spans: list[ChunkSpan] = []
    start = data_start
    while start < size:
        end = min(size, start + chunk_bytes)
        spans.append(ChunkSpan(index=len(spans), start=start, end=end))
        start = end
    return tuple(spans)


def chunk_window(span: ChunkSpan, data_start: int) -> tuple[int, int, bool]:
    """Where a chunk's reader starts, where its lines stop starting (relative to that start), and
    whether the first bytes it reads belong to the line before it. A chunk after the first starts
    one byte early: if that byte is a newline, the chunk's first line starts exactly at its start."""
    if span.start == data_start:
        return span.start, span.end - span.start, False
    read_from = span.start - 1
    return read_from, span.end - read_from, True


def line_ref(chunk: int, line_in_chunk: int) -> int:
    """A row's line as (chunk, line within it), one sortable number: the file order of rows, known
    before the lines of earlier chunks are counted."""
    return (chunk << 32) | line_in_chunk


def absolute_line(ref: int, lines_before_chunk: Sequence[int]) -> int:
    """The file line of `ref`, given each chunk's count of lines before it (the header is line 1)."""
    return 1 + lines_before_chunk[ref >> 32] + (ref & 0xFFFFFFFF)


def lines_before(chunk_lines: Sequence[int]) -> list[int]:
    """Running totals: lines of the chunks before each chunk."""
    totals, running = [], 0
    for count in chunk_lines:
        totals.append(running)
        running += count
    return totals


def failure_of(counts: ImportCounts, rows_expected: int) -> ImportFailure | None:
    """R-VOI-BULK: whether a loaded file may replace its source's list. It must hold the rows the
    request announced (a truncated upload would silently shrink the list), accept at least one row,
    and reject at most half of them (more is a wrong file, not a list with mistakes)."""
    if counts.rows != rows_expected:
        return ImportFailure(
            code="row-count-mismatch",
            message=f"the file has {counts.rows} rows; the request announced {rows_expected}",
        )
    if counts.accepted == 0:
        return ImportFailure(code="no-rows-accepted", message="every row was rejected; the list is unchanged")
    if counts.rejected * 2 > counts.rows:
        return ImportFailure(
            code="too-many-rejected",
            message=f"{counts.rejected} of {counts.rows} rows were rejected; the list is unchanged",
        )
    return None


def superseded(by: str) -> ImportFailure:
    return ImportFailure(code="superseded", message=f"a later import of the same source ({by}) replaced it")


__all__ = [
    "ChunkSpan",
    "ImportCounts",
    "ImportFailure",
    "ImportPlan",
    "ImportRecord",
    "ImportStatus",
    "ListGeneration",
    "RowReject",
]
