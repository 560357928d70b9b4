"""R-AUDIT: the audit trail as a hash chain per UTC day, as pure functions.

Each stored record is the event's fields plus `chain_day`, `seq` (1, 2, … within the day),
`prev_hash` (the hash of the record before it) and `hash` = SHA-256 of the canonical JSON of every
other field. The first record of a day links to the last record of the previous day when that day
has records, else to GENESIS_HASH. A day that has been continued by the next day ends with a `seal`
record, so no event can be appended to it after the next day's chain has linked to it.

Altering a field changes the record's hash; deleting a record leaves a gap in `seq`; moving a record
changes its `seq` (hashed) or breaks the `prev_hash` links. What the chain alone cannot show is the
removal of the newest records of the newest day: that needs an external anchor (the daily digests).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

GENESIS_HASH = "0" * 64
"""prev_hash of the first record of a day whose previous day holds no records."""

KIND_EVENT = "event"
KIND_SEAL = "seal"

EVENT_FIELDS = (
    "at",
    "user",
    "groups",
    "lea",
    "method",
    "route",
    "parameters",
    "purpose",
    "reason",
    "case_ref",
    "status",
    "result_count",
    "request_id",
    "source_ip",
)
"""What an audit event records (SPEC §6 `GET /audit` fields, less the derived `event_id`)."""

CHAIN_FIELDS = ("chain_day", "seq", "kind", "prev_hash")
HASHED_FIELDS = CHAIN_FIELDS + EVENT_FIELDS


def canonical_json(value: Any) -> bytes:
    """One byte string per value: sorted keys, no whitespace, UTF-8. Values are JSON scalars, lists
    and objects of them; floats are refused because they do not survive a store round trip exactly."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_refuse
    ).encode("utf-8")


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not an audit value")


def _check_no_floats(value: Any, path: str) -> None:
    if isinstance(value, float):
        raise TypeError(f"{path}: floats are not audit values (store them as text)")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_no_floats(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_no_floats(v, f"{path}[{i}]")


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) over the canonical JSON of the hashed fields; an absent field counts as null."""
    payload = {name: record.get(name) for name in HASHED_FIELDS}
    _check_no_floats(payload, "record")
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def chain_record(
    event: Mapping[str, Any], *, chain_day: str, seq: int, prev_hash: str, kind: str = KIND_EVENT
) -> dict[str, Any]:
    """The stored form of `event` at position `seq` of `chain_day`, linked to `prev_hash`."""
    unknown = set(event) - set(EVENT_FIELDS)
    if unknown:
        raise ValueError(f"not audit event fields: {', '.join(sorted(unknown))}")
    if seq < 1:
        raise ValueError("seq starts at 1")
    record: dict[str, Any] = {name: event.get(name) for name in EVENT_FIELDS}
    record.update(chain_day=chain_day, seq=seq, kind=kind, prev_hash=prev_hash)
    record["hash"] = record_hash(record)
    return record


def seal_record(*, chain_day: str, seq: int, prev_hash: str, at: str) -> dict[str, Any]:
    """Closes `chain_day`: written before the next day's first record links to it."""
    return chain_record({"at": at}, chain_day=chain_day, seq=seq, prev_hash=prev_hash, kind=KIND_SEAL)


def event_id(record: Mapping[str, Any]) -> str:
    """The public id of an event: its place in the chain, so an auditor can verify that day."""
    return f"{record['chain_day']}:{int(record['seq'])}"


MIN_YEAR = 1901
MAX_YEAR = 9998
"""Days and instants taken from callers must fall in these years: far enough from `datetime`'s
limits that UTC conversion and day or window arithmetic either side cannot overflow."""


def in_range(day: date) -> bool:
    return MIN_YEAR <= day.year <= MAX_YEAR


def previous_day(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def days_between(first: str, last: str) -> list[str]:
    """Every day from `first` to `last` inclusive (ISO dates)."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


@dataclass(frozen=True, slots=True)
class ChainBreak:
    chain_day: str
    seq: int
    reason: str
    """`hash-mismatch` (a field altered), `gap` (a record missing), `out-of-order`,
    `prev-link` (prev_hash is not the previous record's hash), `seal-not-last`, `wrong-day`."""
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"chain_day": self.chain_day, "seq": self.seq, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class VerifyReport:
    days: tuple[str, ...]
    records: int
    breaks: tuple[ChainBreak, ...] = field(default=())

    @property
    def intact(self) -> bool:
        return not self.breaks

    def as_dict(self) -> dict[str, object]:
        first = self.breaks[0].as_dict() if self.breaks else None
        return {
            "intact": self.intact,
            "days": list(self.days),
            "records": self.records,
            "first_break": first,
            "breaks": [b.as_dict() for b in self.breaks],
        }


def verify_chain(
    records: Sequence[Mapping[str, Any]], *, genesis_prev_hash: str | None = GENESIS_HASH
) -> VerifyReport:
    """Checks records of one or more consecutive days, in the order read (day, then seq ascending).

    `genesis_prev_hash` is what the first record of the first day must link to: the hash of the
    previous day's last record, or GENESIS_HASH when that day is empty; None skips that one check (the
    caller could not know it). Later days' first records must link to the previous day's last record
    when that day is among `records`, else to GENESIS_HASH.
    """
    breaks: list[ChainBreak] = []
    days: list[str] = []
    prev: Mapping[str, Any] | None = None
    expected_first_link = genesis_prev_hash
    for record in records:
        day = str(record.get("chain_day"))
        seq = _as_int(record.get("seq"))
        if not days or days[-1] != day:
            if days and day <= days[-1]:
                breaks.append(ChainBreak(day, seq, "out-of-order", f"day {day} read after {days[-1]}"))
            if days:
                linked_day = days[-1] == previous_day(day)
                expected_first_link = str(prev["hash"]) if prev is not None and linked_day else GENESIS_HASH
            days.append(day)
            if seq != 1:
                breaks.append(ChainBreak(day, seq, "gap", f"the day starts at seq {seq}, not 1"))
            if expected_first_link is not None and record.get("prev_hash") != expected_first_link:
                breaks.append(
                    ChainBreak(day, seq, "prev-link", "the first record does not link to the previous day")
                )
        else:
            assert prev is not None
            prev_seq = _as_int(prev.get("seq"))
            if seq <= prev_seq:
                breaks.append(ChainBreak(day, seq, "out-of-order", f"seq {seq} read after {prev_seq}"))
            elif seq != prev_seq + 1:
                breaks.append(ChainBreak(day, seq, "gap", f"seq {prev_seq + 1}..{seq - 1} missing"))
            if prev.get("kind") == KIND_SEAL:
                breaks.append(ChainBreak(day, prev_seq, "seal-not-last", "records follow the day's seal"))
            if record.get("prev_hash") != prev.get("hash"):
                breaks.append(
                    ChainBreak(day, seq, "prev-link", f"prev_hash is not the hash of seq {prev_seq}")
                )
        try:
            recomputed = record_hash(record)
        except TypeError as exc:
            breaks.append(ChainBreak(day, seq, "hash-mismatch", str(exc)))
        else:
            if recomputed != record.get("hash"):
                breaks.append(
                    ChainBreak(day, seq, "hash-mismatch", "the record's fields do not match its hash")
                )
        if not _day_matches(record):
            breaks.append(ChainBreak(day, seq, "wrong-day", "the record's time is not on its chain day"))
        prev = record
    return VerifyReport(days=tuple(days), records=len(records), breaks=tuple(breaks))


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _day_matches(record: Mapping[str, Any]) -> bool:
    """An event's `at` is on its chain day, or the day before (written just after midnight to a
    day that was sealed meanwhile); a seal is written by the next day's first writer."""
    at = str(record.get("at") or "")[:10]
    day = str(record.get("chain_day"))
    if not _is_date(day):
        return False
    other = next_day(day) if record.get("kind") == KIND_SEAL else previous_day(day)
    return at in (day, other)


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
