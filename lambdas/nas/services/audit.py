"""R-AUDIT `GET /audit`: events for auditors, newest first, by index (a user, an LEA) or by merging
every chain of every day in the window, with keyset page tokens checked on the way in. Also what
the audit workflows share: page-token refusal and `should_stop` deadlines.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from nas.adapters.audit import AuditQuery, AuditTrail, IndexPosition
from nas.catalogue import AUDIT_CHAINS_PER_DAY
from nas.domain import audit
from nas.domain.audit import AuditRecord, ChainId


class InvalidCursor(ValueError):
    """A page token that does not belong to this query."""


def never() -> bool:
    return False


def deadline_after(seconds: float, clock: Callable[[], float] = time.monotonic) -> Callable[[], bool]:
    """A `should_stop` that turns true `seconds` from now."""
    end = clock() + seconds
    return lambda: clock() >= end


@dataclass(frozen=True, slots=True)
class EventPage:
    records: list[AuditRecord]
    cursor: dict[str, Any] | None


def list_events(
    trail: AuditTrail, query: AuditQuery, limit: int, cursor: Mapping[str, Any] | None
) -> EventPage:
    """Up to `limit` events of `query`, newest first, and the cursor of the next page (R-AUDIT).
    With a user or an LEA, one index query; else every chain of every day in the window, merged."""
    if query.user is not None or query.lea is not None:
        return _by_index(trail, query, limit, cursor)
    return _by_chains(trail, query, limit, cursor)


def refuse() -> InvalidCursor:
    return InvalidCursor("the page token does not belong to this query")


def is_seq(value: object, upper: int = audit.MAX_SEQ) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value < upper


def _by_index(
    trail: AuditTrail, query: AuditQuery, limit: int, cursor: Mapping[str, Any] | None
) -> EventPage:
    by, key = ("user", query.user) if query.user is not None else ("lea", query.lea)
    after: IndexPosition | None = None
    if cursor is not None:
        if set(cursor) != {"by", "key", "at", "chain", "seq"} or (cursor["by"], cursor["key"]) != (by, key):
            raise refuse()
        at, chain, seq = cursor["at"], cursor["chain"], cursor["seq"]
        if not isinstance(at, str) or not query.start <= at <= query.end or not is_seq(seq):
            raise refuse()
        try:
            ChainId.parse(chain)
        except ValueError:
            raise refuse() from None
        after = IndexPosition(at, chain, seq)
    found: list[tuple[AuditRecord, IndexPosition]] = []
    for item in trail.index_events(query, after, limit + 1):
        if len(found) == limit:
            last = found[-1][1]
            return EventPage(
                [r for r, _ in found],
                {"by": by, "key": key, "at": last.at, "chain": last.chain, "seq": last.seq},
            )
        found.append(item)
    return EventPage([r for r, _ in found], None)


def _newest_first(item: tuple[str, int, AuditRecord]) -> tuple[str, int, int]:
    return item[2].at, item[1], item[2].seq


def _by_chains(
    trail: AuditTrail, query: AuditQuery, limit: int, cursor: Mapping[str, Any] | None
) -> EventPage:
    """Each day's chains merged newest first. The cursor keeps, for the day where the page ended,
    the seq below which each chain continues: exact whatever the order of `at` between chains."""
    days = audit.days_between(query.start[:10], query.end[:10])
    days.reverse()
    start_bounds: list[int | None] = [None] * AUDIT_CHAINS_PER_DAY
    if cursor is not None:
        if set(cursor) != {"day", "below"} or cursor["day"] not in days:
            raise refuse()
        below = cursor["below"]
        if not isinstance(below, list) or len(below) != AUDIT_CHAINS_PER_DAY:
            raise refuse()
        if not all(b is None or is_seq(b, audit.MAX_SEQ + 1) for b in below):
            raise refuse()
        start_bounds = list(below)
        days = days[days.index(cursor["day"]) :]

    def tagged(day: str, chain: int, below: int | None) -> Iterator[tuple[str, int, AuditRecord]]:
        for record in trail.chain_events(ChainId(day, chain), query, below, limit + 1):
            yield day, chain, record

    def merged() -> Iterator[tuple[str, int, AuditRecord]]:
        for n, day in enumerate(days):
            bounds = start_bounds if n == 0 else [None] * AUDIT_CHAINS_PER_DAY
            streams = [tagged(day, c, bounds[c]) for c in range(AUDIT_CHAINS_PER_DAY)]
            yield from heapq.merge(*streams, key=_newest_first, reverse=True)

    taken: list[tuple[str, int, AuditRecord]] = []
    for item in merged():
        if len(taken) == limit:
            day = taken[-1][0]
            bounds: list[int | None] = list(start_bounds) if day == days[0] else [None] * AUDIT_CHAINS_PER_DAY
            for taken_day, chain, record in taken:
                if taken_day == day:
                    bounds[chain] = record.seq
            return EventPage([r for _, _, r in taken], {"day": day, "below": bounds})
        taken.append(item)
    return EventPage([r for _, _, r in taken], None)
