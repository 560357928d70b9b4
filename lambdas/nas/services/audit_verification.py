"""R-AUDIT verification: every chain of a range of days, one at a time and each page by page, against
its hash links and its signed digests (`GET /audit/verify` in pages, `nas audit verify` in one pass),
so no range of days is ever held in memory at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nas.adapters.audit import AuditTrail
from nas.adapters.digests import DigestRef, DigestStore
from nas.adapters.signing import SignatureVerifier
from nas.catalogue import AUDIT_CHAINS_PER_DAY
from nas.domain import audit
from nas.domain.audit import (
    ChainId,
    ChainResult,
    ChainVerifier,
    DigestFormatError,
    VerifyReport,
    VerifyResume,
)
from nas.services.audit import is_seq, never, refuse
from nas.services.audit_digests import signature_valid


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
            valid = signature_valid(ports.verifier, signed)
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
    check.add_digest(signed, signature_valid=signature_valid(ports.verifier, signed), replaced=ref.replaced)


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
        raise refuse()
    if (cursor["from"], cursor["to"]) != (first_day, last_day):
        raise refuse()
    day, chain, seq, digest_seq = cursor["day"], cursor["chain"], cursor["seq"], cursor["digest_seq"]
    if not audit.is_day(day) or not first_day <= day <= last_day:
        raise refuse()
    if isinstance(chain, bool) or not isinstance(chain, int) or not 0 <= chain < AUDIT_CHAINS_PER_DAY:
        raise refuse()
    if not is_seq(seq):
        raise refuse()
    if digest_seq != 0 and not is_seq(digest_seq, audit.MAX_DIGEST_SEQ):
        raise refuse()
    return VerifyResume(day, chain, seq, digest_seq)
