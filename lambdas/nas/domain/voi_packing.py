"""How a bulk-list generation is laid out (docs/data-model.md): a stable hash of each VRM chooses
its group and bucket; rows are packed per bucket; each group's rows set one segment of a blocked
Bloom filter, which the match path keeps in memory so that only reads whose VRM may be listed cost
a lookup. Pure."""

from __future__ import annotations

import hashlib
import math
import sys
import zlib
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson

from nas.domain.voi_lists import MAX_GROUPS, ListGeneration, PackedRow

TARGET_ROWS_PER_BUCKET = 256
"""About 2-4 KB a bucket item once packed (repetitive rows compress well): one read unit a lookup."""
ROWS_PER_GROUP = 50_000
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
    return pack_lines(orjson.dumps(r) for r in rows)


def pack_lines(lines: Iterable[bytes]) -> bytes:
    """`pack_rows` of rows already encoded as JSON (`["VRM",…]`): byte order is VRM order."""
    return zlib.compress(b"\n".join(sorted(lines)), 6)


def line_vrm(line: bytes) -> str:
    """The VRM of a row's JSON line (it starts `["VRM"`; a VRM holds no character JSON escapes)."""
    return line[2 : line.index(b'"', 2)].decode("ascii")


def lines_by_vrm(data: bytes) -> dict[str, bytes]:
    """A packed bucket's rows as their JSON lines by VRM, none parsed: enough to tell rows apart."""
    return {line_vrm(line): line for line in zlib.decompress(data).split(b"\n") if line}


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


def diff_rows(new: Mapping[str, object], old: Mapping[str, object]) -> RowDiff:
    """How a list's rows (by VRM) changed against the previous generation's (rows compared as
    whole values: parsed rows, or their JSON lines, which one encoder made alike)."""
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
