"""R-AUDIT digest job: for each chain of today and the days before, signs a digest of the records
added since its last digest into the Object Lock evidence bucket, and closes the chains of a day
that has ended (every 5 minutes, and just after each UTC day)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nas.adapters import StoreConflict
from nas.adapters.audit import AuditTrail
from nas.adapters.digests import DigestStore
from nas.adapters.signing import DigestSigner, SignatureVerifier
from nas.domain import audit
from nas.domain.audit import (
    AuditRecord,
    ChainBreak,
    ChainId,
    ChainVerifier,
    Digest,
    DigestFormatError,
    SignedDigest,
    VerifyReport,
)
from nas.domain.timefmt import utc_date
from nas.services.audit import never

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
    if not signature_valid(ports.verifier, signed):
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


def signature_valid(verifier: SignatureVerifier, signed: SignedDigest) -> bool:
    return verifier.verify(signed.digest.signed_message(), signed.signature, signed.algorithm)
