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
import hashlib
import math
import sys
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
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

# --- the file format ------------------------------------------------------------------------------


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


# --- hashing, buckets and the membership filter ---------------------------------------------------

TARGET_ROWS_PER_BUCKET = 256
"""About 2-4 KB a bucket item once packed (repetitive rows compress well): one read unit a lookup."""
ROWS_PER_GROUP = 50_000
MAX_GROUPS = 128
FILTER_BITS_PER_ROW = 32
MAX_FILTER_SEGMENT_BYTES = 350_000
"""A filter segment is one item (DynamoDB items stop at 400 KB); beyond it a segment holds fewer
bits per row and the filter lets a few more VRMs through to a lookup, never fewer."""


def vrm_hash(vrm: str) -> int:
    """A stable 128-bit hash of a normalised VRM: low bits choose the group and bucket, bits 32-63
    the filter block and bits 64-111 the filter bits."""
    return hash_ascii(vrm.encode("ascii"))


def hash_ascii(vrm: bytes) -> int:
    """`vrm_hash` of a VRM already encoded (the match path encodes each VRM once)."""
    return int.from_bytes(hashlib.blake2b(vrm, digest_size=16).digest(), "little")


_PAIR_MASKS = [(1 << (pair & 63)) | (1 << (pair >> 6)) for pair in range(4096)]
"""The two bits each 12 hash bits choose: four look-ups make a VRM's mask (the match path's cost)."""


def filter_mask(hashed: int) -> int:
    """The 8 bits of a 64-bit filter block that a VRM sets (blocked Bloom filter, k = 8), chosen by
    hash bits 64-111, six bits a position."""
    bits = hashed >> 64
    return (
        _PAIR_MASKS[bits & 4095]
        | _PAIR_MASKS[(bits >> 12) & 4095]
        | _PAIR_MASKS[(bits >> 24) & 4095]
        | _PAIR_MASKS[(bits >> 36) & 4095]
    )


def _power_of_two_at_least(value: float) -> int:
    return 1 << max(0, math.ceil(math.log2(max(1.0, value))))


def group_count_for(rows: int) -> int:
    """Groups of a list of about `rows` rows: each group is one merge task and one filter segment."""
    return min(MAX_GROUPS, _power_of_two_at_least(rows / ROWS_PER_GROUP))


def bucket_count_for(rows: int, groups: int) -> int:
    """Buckets of a generation: a power of two giving about TARGET_ROWS_PER_BUCKET rows each, and a
    multiple of the group count (a bucket's group is its low bits)."""
    return max(groups, _power_of_two_at_least(rows / TARGET_ROWS_PER_BUCKET))


MAX_SEGMENT_WORDS = 1 << (MAX_FILTER_SEGMENT_BYTES // 8).bit_length() - 1


def segment_words(rows: int) -> int:
    """Words of a group's filter segment: a power of two (so filters of any size combine, see
    `MembershipFilter.union`) giving at least FILTER_BITS_PER_ROW bits a row, within one item."""
    return min(_power_of_two_at_least(rows * FILTER_BITS_PER_ROW / 64), MAX_SEGMENT_WORDS)


def build_segment(hashes: Iterable[int], rows: int) -> bytes:
    """The filter segment of a group holding `rows` rows with these hashes (little-endian words)."""
    words = array("Q", bytes(8 * segment_words(rows)))
    last = len(words) - 1
    for hashed in hashes:
        words[(hashed >> 32) & last] |= filter_mask(hashed)
    if sys.byteorder != "little":
        words.byteswap()
    return words.tobytes()


def _power_of_two(value: int) -> bool:
    return value > 0 and not value & (value - 1)


class MembershipFilter:
    """A generation's filter: one segment per group, each a power-of-two number of 64-bit words.
    `may_contain` is never wrong about a VRM on the list; a few VRMs not on it pass too (about
    0.3 % at 16-32 bits a row) and cost a lookup that finds nothing."""

    def __init__(self, segments: Sequence[bytes]) -> None:
        if not _power_of_two(len(segments)):
            raise ValueError("a filter has a power-of-two number of segments")
        if not all(len(s) % 8 == 0 and _power_of_two(len(s) // 8) for s in segments):
            raise ValueError("a filter segment is a power-of-two number of 64-bit words")
        self._raw = [bytes(s) for s in segments]
        self._segments = [self._words(s) for s in self._raw]
        self._group_mask = len(segments) - 1

    @staticmethod
    def _words(segment: bytes) -> Sequence[int]:
        if sys.byteorder == "little":
            return memoryview(segment).cast("Q")
        words = array("Q", segment)
        words.byteswap()
        return words

    def may_contain(self, hashed: int, mask: int) -> bool:
        words = self._segments[hashed & self._group_mask]
        return words[(hashed >> 32) & (len(words) - 1)] & mask == mask

    @property
    def probe(self) -> Callable[[int, int], bool]:
        """`may_contain` as a closure over the segments (no attribute look-ups per call)."""
        segments, group_mask = self._segments, self._group_mask

        def probe(hashed: int, mask: int) -> bool:
            words = segments[hashed & group_mask]
            return words[(hashed >> 32) & (len(words) - 1)] & mask == mask

        return probe

    @property
    def mask_if_passed(self) -> Callable[[int], int]:
        """For the hot loop: the VRM's filter mask if the filter passes it, else 0. Two of the
        eight bits are checked first, which turns most VRMs away after one table look-up."""
        segments, group_mask, pairs = self._segments, self._group_mask, _PAIR_MASKS

        def mask_if_passed(hashed: int) -> int:
            words = segments[hashed & group_mask]
            word = words[(hashed >> 32) & (len(words) - 1)]
            bits = hashed >> 64
            first = pairs[bits & 4095]
            if word & first != first:
                return 0
            mask = (
                first | pairs[(bits >> 12) & 4095] | pairs[(bits >> 24) & 4095] | pairs[(bits >> 36) & 4095]
            )
            return mask if word & mask == mask else 0

        return mask_if_passed

    @classmethod
    def union(cls, filters: Sequence[MembershipFilter]) -> MembershipFilter:
        """One filter that passes every VRM any of `filters` passes, so a VRM on no list costs one
        probe, not one per list. Sizes are powers of two, so a smaller filter's segment, repeated,
        covers the larger geometry exactly: the bit a VRM probes in the union is the OR of the bits
        it probes in each filter."""
        if not filters:
            raise ValueError("a union of no filters")
        groups = max(len(f._raw) for f in filters)
        words = max(len(s) // 8 for f in filters for s in f._raw)
        segments = []
        for group in range(groups):
            combined = 0
            for member in filters:
                segment = member._raw[group & (len(member._raw) - 1)]
                combined |= int.from_bytes(segment * (words * 8 // len(segment)), "little")
            segments.append(combined.to_bytes(words * 8, "little"))
        return cls(segments)

    @property
    def nbytes(self) -> int:
        return sum(len(s) for s in self._raw)


def pack_rows(rows: Iterable[PackedRow]) -> bytes:
    """One bucket's rows, sorted by VRM, as compressed JSON lines (one row a line)."""
    return zlib.compress(b"\n".join(orjson.dumps(r) for r in sorted(rows, key=lambda r: r[0])), 6)


def unpack_rows(data: bytes) -> list[PackedRow]:
    return [orjson.loads(line) for line in zlib.decompress(data).split(b"\n") if line]


def find_row(data: bytes, vrm: str) -> PackedRow | None:
    """The row of `vrm` in a packed bucket, parsing that line only: most look-ups are for VRMs the
    filter let through by chance, and find nothing without parsing a row."""
    text = zlib.decompress(data)
    key = b'["' + vrm.encode("ascii") + b'"'
    start = 0 if text.startswith(key) else text.find(b"\n" + key) + 1
    if start == 0 and not text.startswith(key):
        return None
    end = text.find(b"\n", start)
    row: PackedRow = orjson.loads(text[start : end if end >= 0 else len(text)])
    return row


def pack_generation(
    generation: ListGeneration, rows: Iterable[PackedRow]
) -> tuple[dict[int, bytes], list[bytes]]:
    """A whole generation in one go, as the import's merges build it group by group: packed rows
    by bucket (empty buckets absent) and one filter segment per group."""
    buckets: dict[int, list[PackedRow]] = {}
    hashes: list[list[int]] = [[] for _ in range(generation.groups)]
    for row in rows:
        hashed = vrm_hash(row[0])
        buckets.setdefault(generation.bucket_of(hashed), []).append(row)
        hashes[hashed & (generation.groups - 1)].append(hashed)
    packed = {bucket: pack_rows(bucket_rows) for bucket, bucket_rows in buckets.items()}
    return packed, [build_segment(group, len(group)) for group in hashes]


def old_buckets_for_group(group: int, groups: int, old_buckets: int) -> list[int]:
    """The buckets of an earlier generation (`old_buckets`, a power of two) that may hold rows of
    `group`: rows agree on their low hash bits, so bucket b can hold them only when b and the group
    agree modulo the smaller of the two counts."""
    common = min(old_buckets, groups)
    return [b for b in range(old_buckets) if b % common == group % common]


@dataclass(frozen=True, slots=True)
class RowDiff:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0


def diff_rows(new: Mapping[str, PackedRow], old: Mapping[str, PackedRow]) -> RowDiff:
    """How a list's rows (by VRM) changed against the previous generation's."""
    added = changed = unchanged = 0
    for vrm, row in new.items():
        before = old.get(vrm)
        if before is None:
            added += 1
        elif before == row:
            unchanged += 1
        else:
            changed += 1
    removed = sum(1 for vrm in old if vrm not in new)
    return RowDiff(added, changed, unchanged, removed)


# --- generations ----------------------------------------------------------------------------------


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
