"""Bulk VOI lists (R-VOI-BULK, R-WHITE, R-VOI-56): the CSV format and its row rules, and the packed
form a list is stored in (docs/data-model.md, "bulk lists").

A list of one source (`dvla`, `mib`, `pnc`, `whitelist`) is stored as a *generation*: every accepted
row, grouped by a hash of its VRM into bucket items small enough to read cheaply, plus a membership
filter (a blocked Bloom filter) the match path keeps in memory, so only reads whose VRM may be on
the list cost a lookup. An import builds a new generation beside the active one and then flips the
source's active pointer in one write (atomic replacement). Pure: no I/O, no clock.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nas.domain import policy
from nas.domain.errors import InvalidVrm
from nas.domain.models import (
    Circulation,
    PncRef,
    VoiAction,
    VoiCategory,
    VoiEntry,
    VoiPriority,
    VoiReason,
    VoiSource,
    check_circulation,
)
from nas.domain.reads import problems_of
from nas.domain.types import Identifier, LeaOrNational, UtcDatetime, Vrm
from nas.domain.vrm import normalise_vrm


class ListSource(StrEnum):
    DVLA = "dvla"
    MIB = "mib"
    PNC = "pnc"
    WHITELIST = "whitelist"

    @property
    def entry_source(self) -> VoiSource | None:
        """The VOI source of this list's entries; the white list has none (it suppresses, R-WHITE)."""
        return None if self is ListSource.WHITELIST else VoiSource(self.value)


LIST_COLUMNS = ("vrm", "category", "action", "priority", "reason", "pnc_ref", "circulation", "sensitive")
REQUIRED_COLUMNS = frozenset({"vrm", "category", "action", "priority", "reason", "circulation"})
CIRCULATION_SEPARATOR = ";"
MAX_LINE_BYTES = 4096
"""A longer line is rejected without being held in memory (a row is about 60 bytes)."""
MAX_LIST_ROWS = 20_000_000
MAX_FILE_BYTES = 2 * 1024**3
UTF8_BOM = b"\xef\xbb\xbf"


class ListFileError(ValueError):
    """The file cannot be loaded at all (empty, wrong header); `code` is the import's failure code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def header_columns(source: ListSource, line: bytes) -> tuple[str, ...]:
    """The column names of a header line. Lists need exactly LIST_COLUMNS, in any order; the white
    list needs `vrm` and may carry any of the others (ignored)."""
    text = line.removeprefix(UTF8_BOM).rstrip(b"\r\n")
    if not text.strip():
        raise ListFileError("empty-file", f"the file has no header: expected {','.join(LIST_COLUMNS)}")
    try:
        names = tuple(name.strip() for name in next(csv.reader([text.decode("utf-8")])))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        raise ListFileError("wrong-header", "the header is not a line of UTF-8 CSV") from None
    unknown = [n for n in names if n not in LIST_COLUMNS]
    repeated = sorted({n for n in names if names.count(n) > 1})
    required = {"vrm"} if source is ListSource.WHITELIST else set(LIST_COLUMNS)
    missing = [c for c in LIST_COLUMNS if c in required and c not in names]
    faults = []
    if missing:
        faults.append(f"missing column(s): {', '.join(missing)}")
    if unknown:
        faults.append(f"unexpected column(s): {', '.join(repr(n[:40]) for n in unknown[:5])}")
    if repeated:
        faults.append(f"repeated column(s): {', '.join(repeated)}")
    if faults:
        raise ListFileError(
            "wrong-header", f"wrong header ({'; '.join(faults)}); expected {','.join(LIST_COLUMNS)}"
        )
    return names


class ListRow(BaseModel):
    """One row of a DVLA, MIB or PNC list, with the field rules of an entry (R-VOI)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vrm: Vrm
    category: VoiCategory
    action: VoiAction
    priority: VoiPriority
    reason: VoiReason
    pnc_ref: PncRef | None = None
    circulation: Circulation
    sensitive: bool = False

    @model_validator(mode="after")
    def _circulation(self) -> ListRow:
        check_circulation(self.circulation)
        return self


class WhiteListRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    vrm: Vrm


PackedRow = Sequence[Any]
"""A stored row: [vrm, category, action, priority, reason, pnc_ref, circulation, sensitive], or
[vrm] for the white list. JSON-friendly, compared as a whole to tell changed rows from unchanged."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    field: str
    message: str


MEMO_LIMIT = 4096
_PLACEHOLDER_VRM = "AA00AAA"


class RowParser:
    """Validates the data lines of one file against the row model (R-VOI field rules).

    Bulk lists repeat everything but the VRM (a DVLA list is millions of `no-tax,report,3,…` rows),
    so the model's verdict on the other cells is remembered per distinct set of cells (the model
    is a pure function of them) and the VRM, the one cell that always differs, is checked on its
    own. A problem never quotes the value: rejects are reported without the data they hold."""

    def __init__(self, source: ListSource, columns: Sequence[str]) -> None:
        self._source = source
        self._columns = tuple(columns)
        self._width = len(columns)
        self._vrm_at = self._columns.index("vrm")
        self._memo: dict[Any, PackedRow | RowProblem] = {}

    def parse(self, line: bytes) -> PackedRow | RowProblem:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return RowProblem("$", "the line is not UTF-8 text")
        quoted = '"' in text
        if quoted:
            try:
                cells = next(csv.reader([text]))
            except (csv.Error, StopIteration):
                return RowProblem("$", "the line is not valid CSV")
        else:
            cells = text.split(",")  # what csv.reader makes of a line without quotes
        if len(cells) != self._width:
            if len(cells) < self._width or any(c.strip() for c in cells[self._width :]):
                return RowProblem("$", f"expected {self._width} values, found {len(cells)}")
            cells = cells[: self._width]
        try:
            vrm = normalise_vrm(cells[self._vrm_at].strip())
        except InvalidVrm as exc:
            return RowProblem("vrm", str(exc))
        if self._source is ListSource.WHITELIST:
            return [vrm]
        rest = tuple(cells[: self._vrm_at] + cells[self._vrm_at + 1 :])
        verdict = self._memo.get(rest)
        if verdict is None:
            verdict = self._validate(cells)
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[rest] = verdict
        if isinstance(verdict, RowProblem):
            return verdict
        return [vrm, *verdict[1:]]

    def _validate(self, cells: Sequence[str]) -> PackedRow | RowProblem:
        values: dict[str, Any] = {}
        for name, cell in zip(self._columns, cells, strict=True):
            value = cell.strip()
            if value:
                values[name] = value
        values["vrm"] = _PLACEHOLDER_VRM  # checked on its own above
        if "circulation" in values:
            values["circulation"] = tuple(
                part.strip() for part in values["circulation"].split(CIRCULATION_SEPARATOR) if part.strip()
            )
        try:
            row = ListRow.model_validate(values)
        except ValidationError as exc:
            first = problems_of(exc)[0]
            return RowProblem(first.field, first.message.removeprefix("Value error, "))
        return [
            row.vrm,
            row.category,
            row.action.value,
            row.priority,
            row.reason,
            row.pnc_ref,
            list(row.circulation),
            row.sensitive,
        ]


def parse_line(source: ListSource, columns: Sequence[str], line: bytes) -> PackedRow | RowProblem:
    """One data line (without its newline) as a packed row, or the first problem found in it."""
    return RowParser(source, columns).parse(line)


def split_lines(
    blocks: Iterable[bytes], *, limit: int, skip_first: bool, max_line: int = MAX_LINE_BYTES
) -> Iterator[bytes | None]:
    """The lines of a byte stream that *start* before offset `limit` (offsets from the stream's
    first byte), without their newline. With `skip_first`, everything up to and including the first
    newline belongs to the previous chunk. A line longer than `max_line` yields None and its bytes
    are skipped, never held. The last line may end at the end of the stream without a newline."""
    pending = bytearray()
    length = 0  # bytes of the current line so far, held or skipped
    start = 0  # offset of the current line's first byte
    skipping = skip_first
    for block in blocks:
        if skipping:
            newline = block.find(b"\n")
            if newline < 0:
                start += len(block)
                continue
            start += newline + 1
            block = block[newline + 1 :]
            skipping = False
        parts = block.split(b"\n")
        for part in parts[:-1]:
            if start >= limit:
                return
            total = length + len(part)
            if total > max_line:
                yield None
            elif pending:
                pending += part
                yield bytes(pending)
            else:
                yield part
            pending.clear()
            start += total + 1
            length = 0
        last = parts[-1]
        if start >= limit:
            return
        if length + len(last) <= max_line:
            pending += last
        else:
            pending.clear()
        length += len(last)
    if not skipping and length and start < limit:
        yield None if length > max_line else bytes(pending)


MAX_GROUPS = 128
"""Groups of a generation at most: merge steps of an import, segments of its filter."""


class ListGeneration(BaseModel):
    """A loaded list: where its items are, how many rows, and when it was revised (the import's start).
    R-VOI-56 for bulk entries: the list stops matching 56 days after its revision unless replaced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: ListSource
    import_id: Identifier
    buckets: Annotated[int, Field(ge=1, le=1 << 24)]
    groups: Annotated[int, Field(ge=1, le=MAX_GROUPS)]
    rows: Annotated[int, Field(ge=0)]
    revised_at: UtcDatetime
    owner_lea: LeaOrNational
    requested_by: Annotated[str, Field(min_length=1, max_length=128)]

    @model_validator(mode="after")
    def _powers_of_two(self) -> ListGeneration:
        for name in ("buckets", "groups"):
            value = getattr(self, name)
            if value & (value - 1):
                raise ValueError(f"{name} must be a power of two")
        if self.buckets % self.groups:
            raise ValueError("buckets must be a multiple of groups")
        return self

    @property
    def expires_at(self) -> datetime:
        return policy.voi_expires_at(self.revised_at)

    @property
    def review_due_at(self) -> datetime:
        return policy.voi_review_due_at(self.revised_at)

    def is_live(self, now: datetime) -> bool:
        return policy.voi_is_live(self.expires_at, now)

    def bucket_of(self, hashed: int) -> int:
        return hashed & (self.buckets - 1)

    def voi_id(self, vrm: str) -> str:
        """Bulk entries are named by source and VRM, so the same vehicle keeps its id across imports
        (R-DUP: a read matched before and after a replacement alerts once)."""
        return f"{self.source.value}:{vrm}"

    def entry(self, row: PackedRow) -> VoiEntry:
        """The VOI entry of one of this list's rows (not for the white list)."""
        source = self.source.entry_source
        if source is None:
            raise ValueError("white-list rows are not entries")
        vrm, category, action, priority, reason, pnc_ref, circulation, sensitive = row
        return VoiEntry.model_validate(
            {
                "voi_id": self.voi_id(vrm),
                "vrm": vrm,
                "source": source,
                "category": category,
                "action": VoiAction(action),
                "priority": priority,
                "reason": reason,
                "pnc_ref": pnc_ref,
                "circulation": tuple(circulation),
                "owner_lea": self.owner_lea,
                "sensitive": sensitive,
                "created_by": self.requested_by,
                "created_at": self.revised_at,
                "last_revised_at": self.revised_at,
                "review_due_at": self.review_due_at,
                "expires_at": self.expires_at,
            }
        )


def parse_voi_id(voi_id: str) -> tuple[ListSource, str] | None:
    """(source, VRM) of a bulk entry's id (`dvla:AB12CDE`); None for a single entry's id."""
    source, sep, vrm = voi_id.partition(":")
    if not sep:
        return None
    try:
        return ListSource(source), vrm
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Claim:
    """The import that last started loading a source: only it may become the source's list."""

    import_id: str
    order: str


@dataclass(frozen=True, slots=True)
class ListState:
    """Which generation is each source's list, and which import holds each source's claim."""

    active: dict[ListSource, ListGeneration]
    claims: dict[ListSource, Claim]

    def live(self, now: datetime) -> dict[ListSource, ListGeneration]:
        """R-VOI-56: a list older than 56 days no longer counts, whatever the pointer says."""
        return {source: g for source, g in self.active.items() if g.is_live(now)}
