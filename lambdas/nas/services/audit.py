"""R-AUDIT workflows over the audit ports: listing events for auditors (`GET /audit`), writing the
signed digests that anchor the chains (the digest job, every 5 minutes and just after each UTC day),
and verifying chains against their hash links and their digests (`GET /audit/verify`, `nas audit
verify`), chain by chain and page by page, so no range of days is ever held in memory at once.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nas.adapters import StoreConflict
from nas.adapters.audit import AuditQuery, AuditTrail, IndexPosition
from nas.adapters.digests import DigestRef, DigestStore
from nas.adapters.signing import DigestSigner, SignatureVerifier
from nas.catalogue import AUDIT_CHAINS_PER_DAY
from nas.domain import audit
from nas.domain.audit import (
    AuditRecord,
    ChainBreak,
    ChainId,
    ChainResult,
    ChainVerifier,
    Digest,
    DigestFormatError,
    SignedDigest,
    VerifyReport,
    VerifyResume,
)
from nas.domain.timefmt import utc_date


class InvalidCursor(ValueError):
    """A page token that does not belong to this query."""


def never() -> bool:
    return False


def deadline_after(seconds: float, clock: Callable[[], float] = time.monotonic) -> Callable[[], bool]:
    """A `should_stop` that turns true `seconds` from now."""
    end = clock() + seconds
    return lambda: clock() >= end


# --- GET /audit --------------------------------------------------------------------------------


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


def _refuse() -> InvalidCursor:
    return InvalidCursor("the page token does not belong to this query")


def _is_seq(value: object, upper: int = audit.MAX_SEQ) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value < upper


def _by_index(
    trail: AuditTrail, query: AuditQuery, limit: int, cursor: Mapping[str, Any] | None
) -> EventPage:
    by, key = ("user", query.user) if query.user is not None else ("lea", query.lea)
    after: IndexPosition | None = None
    if cursor is not None:
        if set(cursor) != {"by", "key", "at", "chain", "seq"} or (cursor["by"], cursor["key"]) != (by, key):
            raise _refuse()
        at, chain, seq = cursor["at"], cursor["chain"], cursor["seq"]
        if not isinstance(at, str) or not query.start <= at <= query.end or not _is_seq(seq):
            raise _refuse()
        try:
            ChainId.parse(chain)
        except ValueError:
            raise _refuse() from None
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
            raise _refuse()
        below = cursor["below"]
        if not isinstance(below, list) or len(below) != AUDIT_CHAINS_PER_DAY:
            raise _refuse()
        if not all(b is None or _is_seq(b, audit.MAX_SEQ + 1) for b in below):
            raise _refuse()
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


# --- the digest job ------------------------------------------------------------------------------

MAX_DIGEST_RECORDS = 10_000
"""Records one digest lists (about 0.7 MB of hashes); a backlog is digested in several."""
DIGEST_LOOKBACK_DAYS = 3
"""Days before today whose chains the job still digests and closes, so a job stopped for a
weekend catches up on its own. Older unclosed days show in verification as not anchored."""


@dataclass(frozen=True, slots=True)
class DigestPorts:
    trail: AuditTrail
    digests: DigestStore
    signer: DigestSigner
    verifier: SignatureVerifier
    retention: timedelta


@dataclass(slots=True)
class DigestRun:
    """What one run of the digest job did: digests written (chain, digest number, records, closed),
    chain breaks seen in the records it anchored, chains it could not extend, and why."""

    written: list[tuple[str, int, int, bool]] = field(default_factory=list)
    breaks: list[ChainBreak] = field(default_factory=list)
    blocked: list[tuple[str, str]] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(n for _, _, n, _ in self.written)

    def as_dict(self) -> dict[str, object]:
        return {
            "digests": len(self.written),
            "records": self.records,
            "closed": [chain for chain, _, _, closed in self.written if closed],
            "breaks": [b.as_dict() for b in self.breaks[: VerifyReport.MAX_BREAKS]],
            "blocked": [{"chain_id": c, "reason": r} for c, r in self.blocked],
            "unfinished": self.unfinished,
        }


def write_digests(
    ports: DigestPorts,
    *,
    now: datetime,
    writer: str,
    should_stop: Callable[[], bool] = never,
    lookback_days: int = DIGEST_LOOKBACK_DAYS,
    max_records: int = MAX_DIGEST_RECORDS,
) -> DigestRun:
    """R-AUDIT: for each chain of today and the `lookback_days` before, signs a digest of the
    records added since the chain's last digest and stores it under Object Lock; a day that ended
    (`audit.closable`) gets a closing digest per chain, records or not. A chain whose latest digest
    does not verify is left alone and reported (someone else wrote there: an operator must look)."""
    run = DigestRun()
    today = utc_date(now)
    first = (datetime.fromisoformat(today) - timedelta(days=lookback_days)).date().isoformat()
    for day in audit.days_between(first, today):
        close = audit.closable(day, now)
        for chain in audit.chains_of(day):
            if should_stop():
                run.unfinished.append(str(chain))
                continue
            _digest_chain(
                ports,
                chain,
                close=close,
                now=now,
                writer=writer,
                run=run,
                should_stop=should_stop,
                max_records=max_records,
            )
    return run


def _latest_digest(ports: DigestPorts, chain: ChainId, run: DigestRun) -> tuple[bool, Digest | None]:
    """(usable, latest digest): not usable when the latest stored digest is unreadable or unsigned."""
    numbered = [r for r in ports.digests.refs(chain) if r.digest_seq is not None]
    if not numbered:
        return True, None
    if numbered[-1].replaced:
        run.blocked.append((str(chain), f"digest {numbered[-1].digest_seq} has been overwritten or hidden"))
        return False, None
    try:
        signed = ports.digests.read(numbered[-1])
    except DigestFormatError as exc:
        run.blocked.append((str(chain), f"digest {numbered[-1].digest_seq}: {exc}"))
        return False, None
    if not _signature_valid(ports.verifier, signed):
        run.blocked.append((str(chain), f"digest {signed.digest.digest_seq} does not verify"))
        return False, None
    return True, signed.digest


def _digest_chain(
    ports: DigestPorts,
    chain: ChainId,
    *,
    close: bool,
    now: datetime,
    writer: str,
    run: DigestRun,
    should_stop: Callable[[], bool],
    max_records: int,
) -> None:
    usable, latest = _latest_digest(ports, chain, run)
    if not usable or (latest is not None and latest.closed):
        return
    check = ChainVerifier(
        chain,
        next_seq=latest.last_seq + 1 if latest else 1,
        prev_hash=latest.head_hash if latest else audit.GENESIS_HASH,
    )
    batch: list[AuditRecord] = []

    def write(records: list[AuditRecord], closed: bool) -> Digest | None:
        digest = audit.next_digest(chain, latest, records, closed=closed, written_at=now, written_by=writer)
        signature = ports.signer.sign(digest.signed_message())
        signed = SignedDigest(digest, signature.key_id, signature.algorithm, signature.value)
        try:
            ports.digests.write(signed, now + ports.retention)
        except StoreConflict:
            run.blocked.append((str(chain), f"digest {digest.digest_seq} was written by another run"))
            return None
        run.written.append((str(chain), digest.digest_seq, len(records), closed))
        return digest

    for record in ports.trail.records(chain, check.next_seq):
        check.add_record(record)
        batch.append(record)
        if len(batch) == max_records:
            latest = write(batch, closed=False)
            batch = []
            if latest is None:
                break
            if should_stop():
                run.unfinished.append(str(chain))
                break
    else:
        if batch or close:
            write(batch, closed=close)
    run.breaks.extend(check.breaks)


def _signature_valid(verifier: SignatureVerifier, signed: SignedDigest) -> bool:
    return verifier.verify(signed.digest.signed_message(), signed.signature, signed.algorithm)


# --- verification --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyPorts:
    trail: AuditTrail
    digests: DigestStore
    verifier: SignatureVerifier


class _Progress:
    """Whether this page has done any work yet: a page always checks something before it may
    stop, so paging always ends."""

    def __init__(self, should_stop: Callable[[], bool]) -> None:
        self._should_stop = should_stop
        self.done = 0

    def stop(self) -> bool:
        return self.done > 0 and self._should_stop()


def verify_trail(
    ports: VerifyPorts,
    first_day: str,
    last_day: str,
    *,
    resume: VerifyResume | None = None,
    should_stop: Callable[[], bool] = never,
) -> VerifyReport:
    """R-AUDIT: verifies every chain of `first_day`..`last_day`, one chain at a time and each page
    by page, against its hash links and its signed digests. Returns what was found; when
    `should_stop` turns true first, the report's `resume` says where the next call picks up."""
    report = VerifyReport(first_day, last_day)
    progress = _Progress(should_stop)
    start_day = resume.day if resume else first_day
    for day in audit.days_between(start_day, last_day):
        for chain in audit.chains_of(day):
            start = None
            if resume is not None and day == resume.day:
                if chain.chain < resume.chain:
                    continue
                if chain.chain == resume.chain:
                    start = resume
            result, stopped = _verify_chain(ports, chain, start, progress)
            report.add(result, finished=stopped is None)
            if stopped is not None:
                report.resume = stopped
                return report
    return report


def verify_page(
    ports: VerifyPorts,
    first_day: str,
    last_day: str,
    cursor: Mapping[str, Any] | None,
    *,
    should_stop: Callable[[], bool],
) -> tuple[VerifyReport, dict[str, Any] | None]:
    """One page of a verification (`GET /audit/verify`): from the start of the range, or where the
    page of `cursor` stopped; returns the report and the cursor of the next page (None: done).
    InvalidCursor when `cursor` is not one of this range's."""
    resume = parse_verify_cursor(cursor, first_day, last_day) if cursor is not None else None
    report = verify_trail(ports, first_day, last_day, resume=resume, should_stop=should_stop)
    return report, verify_cursor(report)


def _verify_chain(
    ports: VerifyPorts, chain: ChainId, start: VerifyResume | None, progress: _Progress
) -> tuple[ChainResult, VerifyResume | None]:
    refs = ports.digests.refs(chain)
    if start is None:
        check = ChainVerifier(chain)
    else:
        before = ports.trail.record(chain, start.seq - 1) if start.seq > 1 else None
        prev_hash = before.hash if before else (audit.GENESIS_HASH if start.seq == 1 else None)
        check = ChainVerifier(chain, next_seq=start.seq, prev_hash=prev_hash)
        refs = _resume_digests(ports, check, refs, start.digest_seq)
    pending = iter(refs)

    def pull() -> bool:
        ref = next(pending, None)
        if ref is None:
            return False
        _read_digest(ports, check, ref)
        progress.done += 1
        return True

    def stopped() -> tuple[ChainResult, VerifyResume]:
        resume = VerifyResume(chain.day, chain.chain, check.next_seq, check.digest_seq)
        return check.partial(), resume

    for record in ports.trail.records(chain, check.next_seq):
        while check.needs_digest(record.seq) and pull():
            if progress.stop():
                return stopped()
        check.add_record(record)
        progress.done += 1
        if progress.stop():
            return stopped()
    while pull():
        if progress.stop():
            return stopped()
    return check.finish(), None


def _resume_digests(
    ports: VerifyPorts, check: ChainVerifier, refs: list[DigestRef], digest_seq: int
) -> list[DigestRef]:
    """Re-reads the digest a previous page stopped in (its breaks were reported there) and returns
    the digests after it."""
    if digest_seq == 0:
        return refs
    for ref in refs:
        if ref.digest_seq == digest_seq:
            try:
                signed = ports.digests.read(ref)
            except DigestFormatError:
                break  # reported by the page that read it first
            valid = _signature_valid(ports.verifier, signed)
            check.add_digest(signed, signature_valid=valid, replaced=ref.replaced, report=False)
            break
    return [r for r in refs if r.digest_seq is None or r.digest_seq > digest_seq]


def _read_digest(ports: VerifyPorts, check: ChainVerifier, ref: DigestRef) -> None:
    if ref.digest_seq is None:
        check.digest_unreadable(None, f"{ref.key} is not named as a digest")
        return
    try:
        signed = ports.digests.read(ref)
    except DigestFormatError as exc:
        check.digest_unreadable(ref.digest_seq, str(exc))
        return
    check.add_digest(signed, signature_valid=_signature_valid(ports.verifier, signed), replaced=ref.replaced)


def verify_cursor(report: VerifyReport) -> dict[str, Any] | None:
    """The page token content for a report that stopped early."""
    resume = report.resume
    if resume is None:
        return None
    return {
        "from": report.first_day,
        "to": report.last_day,
        "day": resume.day,
        "chain": resume.chain,
        "seq": resume.seq,
        "digest_seq": resume.digest_seq,
    }


def parse_verify_cursor(cursor: Mapping[str, Any], first_day: str, last_day: str) -> VerifyResume:
    """The resume point of a `verify_cursor` token; InvalidCursor unless it belongs to this range."""
    if set(cursor) != {"from", "to", "day", "chain", "seq", "digest_seq"}:
        raise _refuse()
    if (cursor["from"], cursor["to"]) != (first_day, last_day):
        raise _refuse()
    day, chain, seq, digest_seq = cursor["day"], cursor["chain"], cursor["seq"], cursor["digest_seq"]
    if not audit.is_day(day) or not first_day <= day <= last_day:
        raise _refuse()
    if isinstance(chain, bool) or not isinstance(chain, int) or not 0 <= chain < AUDIT_CHAINS_PER_DAY:
        raise _refuse()
    if not _is_seq(seq):
        raise _refuse()
    if digest_seq != 0 and not _is_seq(digest_seq, audit.MAX_DIGEST_SEQ):
        raise _refuse()
    return VerifyResume(day, chain, seq, digest_seq)
