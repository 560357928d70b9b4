"""R-RET-367 made provable, as pure rules: which stored object versions are stragglers (older than
367 days, which lifecycle should have expired), which parts of a date-partitioned prefix can hold
the oldest objects, and the signed retention statement the daily check writes.

Ages are by when a version was stored (S3 LastModified): the moment a read enters storage, which
R-RET-367 counts from. Every version counts, current or not: each holds data until it is deleted.

Why not list everything: a year of packed images is about a hundred million objects. Every key of a
retained prefix names a day (`images/<day>/…`, `reads/capture_date=<day>/…`, `quarantine/<day>/…`,
`firehose-errors/<type>/<yyyy>/<MM>/<dd>/…`) that is never later than the day its object was stored,
give or take the 5 minutes of clock skew R-LATE allows a capture time. So an object stored before a
given day can only be under a day on or before it (plus a day's margin), and the check lists only
those partitions: the few oldest days, not the year. A level without a day in its names is listed
in full.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from nas.domain.audit import canonical_json, sha256_hex
from nas.domain.policy import READ_STORAGE_EXPIRY_DAYS
from nas.domain.timefmt import iso_utc

KEEP_FOR = timedelta(days=READ_STORAGE_EXPIRY_DAYS)
"""R-RET-367: a version stored longer ago than this is a straggler and is deleted."""
DAY_MARGIN = timedelta(days=1)
"""A key's day may run ahead of its storage day by the clock skew R-LATE allows (5 minutes), which
can cross midnight: partitions up to a day after the bound are listed too."""
STATEMENT_FORMAT = "nas.retention-statement.v1"
SIGNED_MESSAGE_PREFIX = b"nas.retention-statement.v1\n"
MAX_KEYS_LISTED = 100
"""Deleted keys named in a statement per prefix; the rest are counted."""

_DAY = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_HIERARCHY = re.compile(r"(?:^|/)((?:19|20)\d{2})/(?:(0[1-9]|1[0-2])/(?:(0[1-9]|[12]\d|3[01])/)?)?$")


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One version of one object, as a listing returns it."""

    key: str
    version_id: str | None
    stored_at: datetime
    size: int
    latest: bool


def is_straggler(stored_at: datetime, now: datetime, key_day: date | None = None) -> bool:
    """R-RET-367: stored more than 367 days ago (366 days is kept, 367 days and a second is not), or
    held under a key naming a day more than 367 days and the day's margin ago. The second rule is for
    files rewritten after the fact (an erasure rewrites a Parquet file without one VRM's rows): S3
    dates the new object from the rewrite, but its rows entered the service on the key's day or the
    day after, and must go on their own schedule."""
    if now - stored_at > KEEP_FOR:
        return True
    return key_day is not None and now.date() - key_day > KEEP_FOR + DAY_MARGIN


def age_days(stored_at: datetime, now: datetime) -> float:
    return round((now - stored_at).total_seconds() / 86_400, 2)


def earliest_day(path: str) -> date | None:
    """The earliest day a key path (or prefix) can hold, from the day it names: `2025-01-31` in any
    segment (`capture_date=2025-01-31/`), or `yyyy/`, `yyyy/MM/`, `yyyy/MM/dd/` at its end. None when
    it names no day (every level below must be listed)."""
    match = _DAY.search(path)
    if match:
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None
    nested = _HIERARCHY.search(path)
    if nested:
        return date(int(nested[1]), int(nested[2] or 1), int(nested[3] or 1))
    return None


def may_hold_before(path: str, bound: date) -> bool:
    """Whether objects stored on or before `bound` can be under `path` (see the module's doc)."""
    day = earliest_day(path)
    return day is None or day <= bound + DAY_MARGIN


@dataclass(frozen=True, slots=True)
class PrefixReport:
    """What the check found under one retained prefix."""

    bucket: str
    prefix: str
    holds: str
    versions_listed: int
    oldest_key: str | None
    oldest_stored_at: datetime | None
    oldest_key_day: date | None
    deleted_versions: int
    deleted_bytes: int
    deleted_keys: tuple[str, ...]
    delete_failures: int

    def oldest_age_days(self, now: datetime) -> float | None:
        return age_days(self.oldest_stored_at, now) if self.oldest_stored_at else None

    def body(self, now: datetime) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "holds": self.holds,
            "versions_listed": self.versions_listed,
            "oldest": None
            if self.oldest_stored_at is None
            else {
                "key": self.oldest_key,
                "stored_at": iso_utc(self.oldest_stored_at),
                "age_days": self.oldest_age_days(now),
                "key_day": self.oldest_key_day.isoformat() if self.oldest_key_day else None,
            },
            "deleted": {
                "versions": self.deleted_versions,
                "bytes": self.deleted_bytes,
                "keys": list(self.deleted_keys),
                "keys_omitted": max(0, self.deleted_versions - len(self.deleted_keys)),
                "failures": self.delete_failures,
            },
        }


def prefix_report(
    *,
    bucket: str,
    prefix: str,
    holds: str,
    listed: Sequence[StoredVersion],
    deleted: Sequence[StoredVersion],
    failed: Sequence[StoredVersion],
) -> PrefixReport:
    """The report of one prefix: `listed` every version seen, `deleted` those deleted, `failed`
    stragglers whose deletion failed (still held, so they count for the oldest)."""
    gone = {(v.key, v.version_id) for v in deleted}
    held = [v for v in listed if (v.key, v.version_id) not in gone]
    oldest = min(held, key=lambda v: (v.stored_at, v.key), default=None)
    return PrefixReport(
        bucket=bucket,
        prefix=prefix,
        holds=holds,
        versions_listed=len(listed),
        oldest_key=oldest.key if oldest else None,
        oldest_stored_at=oldest.stored_at if oldest else None,
        oldest_key_day=earliest_day(oldest.key) if oldest else None,
        deleted_versions=len(deleted),
        deleted_bytes=sum(v.size for v in deleted),
        deleted_keys=tuple(dict.fromkeys(v.key for v in deleted))[:MAX_KEYS_LISTED],
        delete_failures=len(failed),
    )


@dataclass(frozen=True, slots=True)
class RetentionStatement:
    """R-RET-367 / R-RET-365, signed: as of when, what each retained prefix holds at its oldest
    (where a read row's key names its capture day, `key_day` is the oldest capture day held), and
    what was deleted. No personal data: keys name days, shards and sequence numbers."""

    as_of: datetime
    written_at: datetime
    written_by: str
    prefixes: tuple[PrefixReport, ...]

    @property
    def oldest_age_days(self) -> float | None:
        """The age of the oldest version held under any retained prefix (the OldestReadAgeDays metric)."""
        ages = [a for a in (p.oldest_age_days(self.as_of) for p in self.prefixes) if a is not None]
        return max(ages, default=None)

    @property
    def within_retention(self) -> bool:
        """Nothing held is older than 367 days."""
        held = [p.oldest_stored_at for p in self.prefixes if p.oldest_stored_at is not None]
        return all(not is_straggler(moment, self.as_of) for moment in held)

    def body(self) -> dict[str, Any]:
        return {
            "format": STATEMENT_FORMAT,
            "as_of": iso_utc(self.as_of),
            "written_at": iso_utc(self.written_at),
            "written_by": self.written_by,
            "keep_for_days": KEEP_FOR.days,
            "within_retention": self.within_retention,
            "oldest_age_days": _text(self.oldest_age_days),
            "prefixes": [_floats_as_text(p.body(self.as_of)) for p in self.prefixes],
        }

    @property
    def body_hash(self) -> str:
        return sha256_hex(canonical_json(self.body()))

    def signed_message(self) -> bytes:
        return signed_message(self.body())


def _text(value: float | None) -> str | None:
    """Floats as fixed text: canonical JSON (and so the signature) refuses floats."""
    return None if value is None else f"{value:.2f}"


def _floats_as_text(value: Any) -> Any:
    if isinstance(value, float):
        return _text(value)
    if isinstance(value, Mapping):
        return {k: _floats_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats_as_text(v) for v in value]
    return value


def signed_message(body: Mapping[str, Any]) -> bytes:
    """What KMS signs (MessageType RAW): a fixed prefix, so no statement can pass as another kind of
    signed document, and the SHA-256 of the canonical body."""
    return SIGNED_MESSAGE_PREFIX + sha256_hex(canonical_json(dict(body))).encode("ascii")


class StatementFormatError(ValueError):
    """A stored statement that is not a signed retention statement."""


@dataclass(frozen=True, slots=True)
class SignedStatement:
    body: Mapping[str, Any]
    key_id: str
    algorithm: str
    signature: bytes

    def document(self) -> dict[str, Any]:
        import base64

        return {
            "body": dict(self.body),
            "signature": {
                "key_id": self.key_id,
                "algorithm": self.algorithm,
                "value": base64.b64encode(self.signature).decode("ascii"),
            },
        }


def parse_signed_statement(document: Any) -> SignedStatement:
    import base64
    import binascii

    if not isinstance(document, Mapping) or set(document) != {"body", "signature"}:
        raise StatementFormatError("not a signed statement document")
    body, signature = document["body"], document["signature"]
    if not isinstance(body, Mapping) or body.get("format") != STATEMENT_FORMAT:
        raise StatementFormatError(f"the body is not {STATEMENT_FORMAT}")
    if not isinstance(signature, Mapping) or not all(
        isinstance(signature.get(k), str) for k in ("key_id", "algorithm", "value")
    ):
        raise StatementFormatError("the signature is malformed")
    try:
        value = base64.b64decode(signature["value"], validate=True)
    except (binascii.Error, ValueError):
        raise StatementFormatError("the signature is not base64") from None
    return SignedStatement(body, signature["key_id"], signature["algorithm"], value)


def statement_key(prefix: str, written_at: datetime) -> str:
    """`retention-statements/<day>/<HHMMSSffffff>.json`: a day's statements list in time order."""
    stamp = iso_utc(written_at)
    return f"{prefix}{stamp[:10]}/{stamp[11:13]}{stamp[14:16]}{stamp[17:19]}{stamp[20:26]}.json"


def stragglers(versions: Iterable[StoredVersion], now: datetime) -> list[StoredVersion]:
    return [v for v in versions if is_straggler(v.stored_at, now, earliest_day(v.key))]
