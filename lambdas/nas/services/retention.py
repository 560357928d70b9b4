"""R-RET-367 / R-RET-365, proven daily: under every retained prefix (`catalogue.RETAINED_PREFIXES`:
reads, images, Firehose errors, quarantine, and any store of read data added there), list the
versions that can be the oldest (date partitions up to the oldest found, see
`nas.domain.retention`), delete every version stored more than 367 days ago that lifecycle missed,
and write a signed statement of what is held at its oldest and what was deleted into the evidence
bucket beside the audit digests. `GET /reports/retention` reads the latest back, signature checked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from nas import catalogue
from nas.adapters import StoreError
from nas.adapters.retention import ObjectVersions, StatementStore
from nas.adapters.signing import DigestSigner, SignatureVerifier
from nas.domain import retention
from nas.domain.errors import NotFound
from nas.domain.retention import (
    PrefixReport,
    RetentionStatement,
    SignedStatement,
    StatementFormatError,
    StoredVersion,
)
from nas.domain.roles import Principal
from nas.services.activity import JobAudit

JOB_NAME = "retention"
LOOK_BACK_DAYS = 31
"""`GET /reports/retention` looks this many days back for the latest statement."""


@dataclass(frozen=True, slots=True)
class RetentionPorts:
    versions: ObjectVersions
    buckets: Mapping[catalogue.Bucket, str]
    statements: StatementStore
    signer: DigestSigner
    lock: timedelta
    """How long each statement is locked (compliance mode) in the evidence bucket."""
    audit: Callable[[str], JobAudit]
    prefixes: tuple[catalogue.RetainedPrefix, ...] = catalogue.RETAINED_PREFIXES


@dataclass(frozen=True, slots=True)
class RetentionRun:
    statement: RetentionStatement
    key: str

    def as_dict(self) -> dict[str, object]:
        return {
            "statement": self.key,
            "within_retention": self.statement.within_retention,
            "oldest_age_days": self.statement.oldest_age_days,
            "deleted_versions": sum(p.deleted_versions for p in self.statement.prefixes),
            "delete_failures": sum(p.delete_failures for p in self.statement.prefixes),
        }


def check_prefix(
    versions: ObjectVersions, bucket: str, retained: catalogue.RetainedPrefix, now: datetime
) -> PrefixReport:
    """Lists what can be oldest under one prefix, deletes its stragglers, reports the oldest left."""
    cutoff_day = (now - retention.KEEP_FOR).date()
    listed: list[StoredVersion] = []
    oldest_kept: list[date] = []

    def bound() -> date:
        # Until a kept object is found, any partition may hold the oldest: list on.
        return max(cutoff_day, oldest_kept[0]) if oldest_kept else date.max - retention.DAY_MARGIN

    def visit(prefix: str) -> None:
        found, children = versions.level(bucket, prefix)
        listed.extend(found)
        kept = [
            v.stored_at.date()
            for v in found
            if not retention.is_straggler(v.stored_at, now, retention.earliest_day(v.key))
        ]
        if kept:
            oldest_kept[:] = [min([*oldest_kept, *kept])]
        for child in children:
            if retention.may_hold_before(child[len(retained.prefix) :], bound()):
                visit(child)

    visit(retained.prefix)
    doomed = retention.stragglers(listed, now)
    failed = versions.delete(bucket, doomed) if doomed else []
    failed_ids = {(v.key, v.version_id) for v in failed}
    deleted = [v for v in doomed if (v.key, v.version_id) not in failed_ids]
    return retention.prefix_report(
        bucket=retained.bucket.value,
        prefix=retained.prefix,
        holds=retained.holds,
        listed=listed,
        deleted=deleted,
        failed=failed,
    )


def run_retention_check(
    ports: RetentionPorts, *, now: datetime, written_at: datetime, writer: str, run_id: str
) -> RetentionRun:
    """One daily check as of `now` (R-RET-367): every retained prefix, then one signed statement."""
    reports = tuple(check_prefix(ports.versions, ports.buckets[p.bucket], p, now) for p in ports.prefixes)
    statement = RetentionStatement(as_of=now, written_at=written_at, written_by=writer, prefixes=reports)
    body = statement.body()
    signature = ports.signer.sign(retention.signed_message(body))
    signed = SignedStatement(body, signature.key_id, signature.algorithm, signature.value)
    key = retention.statement_key(catalogue.RETENTION_STATEMENT_PREFIX, written_at)
    ports.statements.write(key, signed, written_at + ports.lock)
    run = RetentionRun(statement, key)
    audit = ports.audit(run_id)
    for report in reports:
        if report.deleted_versions or report.delete_failures:
            audit.record(
                "delete",
                result_count=report.deleted_versions,
                reason="R-RET-367",
                bucket=report.bucket,
                prefix=report.prefix,
                deleted_versions=report.deleted_versions,
                deleted_bytes=report.deleted_bytes,
                failures=report.delete_failures,
                as_of=body["as_of"],
            )
    audit.record("run", result_count=len(reports), summary=run.as_dict())
    return run


@dataclass(frozen=True, slots=True)
class StatementRead:
    key: str
    signed: SignedStatement
    signature_valid: bool


def latest_statement(
    statements: StatementStore, verifier: SignatureVerifier, *, today: date, day: date | None = None
) -> StatementRead:
    """The latest statement of `day`, or of the last LOOK_BACK_DAYS days; its signature checked
    against the retention signing key. NotFound when there is none."""
    days = [day] if day is not None else [today - timedelta(days=n) for n in range(LOOK_BACK_DAYS)]
    for candidate in days:
        key = statements.latest_key(candidate.isoformat())
        if key is None:
            continue
        try:
            signed = statements.read(key)
            message = retention.signed_message(signed.body)
        except (StatementFormatError, TypeError, ValueError) as exc:
            # Only the retention job writes here: a malformed statement is tampering or a bug.
            raise StoreError(f"retention statement {key} is malformed: {exc}") from None
        valid = verifier.verify(message, signed.signature, signed.algorithm)
        return StatementRead(key, signed, valid)
    raise NotFound("no retention statement")


class RetentionReports:
    """`GET /reports/retention` for auditors and the DPO. The evidence bucket and the retention key
    are reached on first use (`ports`), so other routes never need them."""

    def __init__(
        self,
        ports: Callable[[], tuple[StatementStore, SignatureVerifier]],
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._ports = ports
        self._clock = clock

    def latest(self, principal: Principal, day: date | None) -> StatementRead:
        statements, verifier = self._ports()
        return latest_statement(statements, verifier, today=self._clock().date(), day=day)
