"""R-AUDIT: the audit trail as hash chains, and the signed digests that anchor them, as pure rules.

Chains. Every UTC day has `catalogue.AUDIT_CHAINS_PER_DAY` chains, named `<day>/<n>`; an append goes
to one of them. Each stored record is the event's fields plus `chain_day`, `chain`, `seq` (1, 2, …
within the chain), `prev_hash` (the hash of the chain's record before it; GENESIS_HASH for seq 1)
and `hash` = SHA-256 of the canonical JSON of every other field. Altering a field changes the
record's hash; deleting a record leaves its seq missing; moving a record changes its position,
which is hashed. `event_id` is `<day>/<n>:<seq>`, so an auditor can find and verify the record.

Digests. What a keyless chain cannot show on its own (a record rewritten with every later record
re-hashed, or the newest records deleted) the digests show: every few minutes the digest job lists,
for each chain, the hash of every record added since that chain's previous digest, the chain's head
and the hash of the previous digest, signs it with a KMS key only the job may use, and stores it
under Object Lock. After a day ends, each of its chains gets a closing digest: nothing may follow
it. A verifier compares the table with the digests and names the chain and seq of any difference;
records newer than a chain's last digest are reported as not yet anchored, not as a break.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from nas.catalogue import AUDIT_CHAINS_PER_DAY

GENESIS_HASH = "0" * 64
"""prev_hash of each chain's first record, and prev_digest_hash of each chain's first digest."""

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

CHAIN_FIELDS = ("chain_day", "chain", "seq", "prev_hash")
HASHED_FIELDS = CHAIN_FIELDS + EVENT_FIELDS

MIN_YEAR = 1901
MAX_YEAR = 9998
"""Days and instants taken from callers must fall in these years: far enough from `datetime`'s
limits that UTC conversion and day or window arithmetic either side cannot overflow."""
MAX_SEQ = 10**9
"""Far above any chain's records in a day; bounds seqs taken from page tokens."""
MAX_DIGEST_SEQ = 10**6
"""Digests of one chain in one day (one each 5 minutes is 288); bounds digest keys and tokens."""

CLOSE_AFTER = timedelta(minutes=1)
"""A day's chains may be closed this long after the day ends: longer than any API invocation
(29 s), so no append for the day can still be in flight when its closing digest is written."""

DIGEST_FORMAT = "nas.audit-digest.v1"
SIGNED_MESSAGE_PREFIX = b"nas.audit-digest.v1\n"


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


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def in_range(day: date) -> bool:
    return MIN_YEAR <= day.year <= MAX_YEAR


def is_day(text: object) -> bool:
    """An ISO date (YYYY-MM-DD) in the accepted years."""
    if not isinstance(text, str) or len(text) != 10:
        return False
    try:
        return in_range(date.fromisoformat(text))
    except ValueError:
        return False


def previous_day(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def days_between(first: str, last: str) -> list[str]:
    """Every day from `first` to `last` inclusive (ISO dates)."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def day_end(day: str) -> datetime:
    """The first instant after `day` (UTC)."""
    return datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(), tzinfo=UTC)


def closable(day: str, now: datetime) -> bool:
    """Whether `day`'s chains may be closed at `now` (R-AUDIT): the day ended CLOSE_AFTER ago."""
    return now >= day_end(day) + CLOSE_AFTER


def is_hash(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        return -1
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


@dataclass(frozen=True, slots=True, order=True)
class ChainId:
    """One chain of one UTC day: `<day>/<n>`, n in 0..AUDIT_CHAINS_PER_DAY-1."""

    day: str
    chain: int

    def __post_init__(self) -> None:
        if not is_day(self.day):
            raise ValueError(f"not a chain day: {self.day!r}")
        if isinstance(self.chain, bool) or not 0 <= self.chain < AUDIT_CHAINS_PER_DAY:
            raise ValueError(f"not a chain number: {self.chain!r}")

    def __str__(self) -> str:
        return f"{self.day}/{self.chain}"

    @classmethod
    def parse(cls, text: object) -> ChainId:
        """`<day>/<n>` as written by `str`; ValueError for anything else."""
        if not isinstance(text, str) or text.count("/") != 1:
            raise ValueError(f"not a chain id: {text!r}")
        day, number = text.split("/")
        if not number.isascii() or not number.isdigit() or len(number) > 3:
            raise ValueError(f"not a chain id: {text!r}")
        return cls(day, int(number))


def chains_of(day: str) -> list[ChainId]:
    return [ChainId(day, n) for n in range(AUDIT_CHAINS_PER_DAY)]


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) over the canonical JSON of the hashed fields; an absent field counts as null.
    A field of any JSON type hashes alike: `parameters` may be an object or its canonical text."""
    payload = {name: record.get(name) for name in HASHED_FIELDS}
    _check_no_floats(payload, "record")
    return sha256_hex(canonical_json(payload))


def chain_record(event: Mapping[str, Any], *, chain: ChainId, seq: int, prev_hash: str) -> dict[str, Any]:
    """The stored form of `event` at position `seq` of `chain`, linked to `prev_hash`."""
    unknown = set(event) - set(EVENT_FIELDS)
    if unknown:
        raise ValueError(f"not audit event fields: {', '.join(sorted(unknown))}")
    if not 1 <= seq < MAX_SEQ:
        raise ValueError(f"seq must be from 1 to {MAX_SEQ - 1}")
    record: dict[str, Any] = {name: event.get(name) for name in EVENT_FIELDS}
    record.update(chain_day=chain.day, chain=chain.chain, seq=seq, prev_hash=prev_hash)
    record["hash"] = record_hash(record)
    return record


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A record as read back from the table: every stored field, tampered values included, so that
    verification can report them rather than fail to read them."""

    fields: Mapping[str, Any]

    @property
    def seq(self) -> int:
        return _as_int(self.fields.get("seq"))

    @property
    def hash(self) -> str:
        value = self.fields.get("hash")
        return value if isinstance(value, str) else ""

    @property
    def prev_hash(self) -> Any:
        return self.fields.get("prev_hash")

    @property
    def at(self) -> str:
        value = self.fields.get("at")
        return value if isinstance(value, str) else ""

    @property
    def chain(self) -> ChainId | None:
        try:
            return ChainId(str(self.fields.get("chain_day")), _as_int(self.fields.get("chain")))
        except ValueError:
            return None

    @property
    def event_id(self) -> str:
        return f"{self.fields.get('chain_day')}/{self.fields.get('chain')}:{self.seq}"

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


def event_id(record: Mapping[str, Any] | AuditRecord) -> str:
    """The public id of an event: `<day>/<chain>:<seq>`, its place in the chains."""
    fields = record.fields if isinstance(record, AuditRecord) else record
    return f"{fields['chain_day']}/{int(fields['chain'])}:{int(fields['seq'])}"


HASH_MISMATCH = "hash-mismatch"
"""A record's fields do not match its stored hash (a field was altered)."""
PREV_LINK = "prev-link"
"""A record's prev_hash is not the hash of the record before it."""
MISSING = "missing"
"""A seq is absent: a record was deleted (between two records, or at the end, per the digests)."""
WRONG_CHAIN = "wrong-chain"
"""A record's own chain_day/chain are not those of the chain it is stored in."""
WRONG_DAY = "wrong-day"
"""A record's `at` is not on its chain's day (or the day before)."""
DIGEST_MISMATCH = "digest-mismatch"
"""A record's hash is not the one its signed digest lists (rewritten, tail re-hashed or not)."""
DIGEST_SIGNATURE = "digest-signature"
"""A digest whose signature does not verify under the audit signing key (forged or altered)."""
DIGEST_FORMAT = "digest-format"
"""A stored digest that is not a well-formed digest of this chain."""
DIGEST_REPLACED = "digest-replaced"
"""A digest key with a later version or a delete marker over its first (locked) version, which is
the one checked."""
DIGEST_LINK = "digest-link"
"""A digest that does not follow the chain's previous digest (number, hash or records covered)."""
AFTER_CLOSE = "after-close"
"""A record or digest after the chain's closing digest."""


@dataclass(frozen=True, slots=True)
class ChainBreak:
    chain_id: str
    seq: int
    reason: str
    detail: str

    def as_dict(self) -> dict[str, object]:
        day, _, chain = self.chain_id.partition("/")
        return {
            "chain_id": self.chain_id,
            "chain_day": day,
            "chain": _as_int(chain),
            "seq": self.seq,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Unanchored:
    """Records of a chain that no valid digest covers yet (written since its last digest)."""

    chain_id: str
    first_seq: int
    last_seq: int

    def as_dict(self) -> dict[str, object]:
        return {"chain_id": self.chain_id, "first_seq": self.first_seq, "last_seq": self.last_seq}


@dataclass(frozen=True, slots=True)
class ChainResult:
    chain: ChainId
    records: int
    digests: int
    breaks: tuple[ChainBreak, ...]
    unanchored: Unanchored | None
    closed: bool


class DigestFormatError(ValueError):
    """A stored digest document that is not a well-formed, internally consistent digest."""


@dataclass(frozen=True, slots=True)
class Digest:
    """What the digest job signs about one chain (R-AUDIT): the hash of every record from
    `first_seq` to `last_seq` (None for a seq that was absent when digested), the head after them,
    the previous digest's hash, whether it closes the chain, and who wrote it when. A digest that
    closes an idle chain covers no records: `last_seq` = `first_seq` - 1."""

    chain: ChainId
    digest_seq: int
    prev_digest_hash: str
    first_seq: int
    record_hashes: tuple[str | None, ...]
    head_seq: int
    head_hash: str
    closed: bool
    written_at: str
    written_by: str

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self.record_hashes) - 1

    def hash_of(self, seq: int) -> str | None:
        return self.record_hashes[seq - self.first_seq]

    def covers(self, seq: int) -> bool:
        return self.first_seq <= seq <= self.last_seq

    def body(self) -> dict[str, Any]:
        return {
            "format": DIGEST_FORMAT,
            "chain_id": str(self.chain),
            "chain_day": self.chain.day,
            "chain": self.chain.chain,
            "digest_seq": self.digest_seq,
            "prev_digest_hash": self.prev_digest_hash,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "record_hashes": list(self.record_hashes),
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "closed": self.closed,
            "written_at": self.written_at,
            "written_by": self.written_by,
        }

    @property
    def digest_hash(self) -> str:
        """What the next digest's prev_digest_hash must be: SHA-256 of the canonical body."""
        return sha256_hex(canonical_json(self.body()))

    def signed_message(self) -> bytes:
        """The bytes signed (KMS `Sign`, MessageType RAW): a fixed prefix and the body's hash, so the
        message stays within KMS's 4 KB whatever the number of records."""
        return SIGNED_MESSAGE_PREFIX + self.digest_hash.encode("ascii")


@dataclass(frozen=True, slots=True)
class SignedDigest:
    digest: Digest
    key_id: str
    algorithm: str
    signature: bytes

    def document(self) -> dict[str, Any]:
        return {
            "body": self.digest.body(),
            "signature": {
                "key_id": self.key_id,
                "algorithm": self.algorithm,
                "value": base64.b64encode(self.signature).decode("ascii"),
            },
        }


def next_digest(
    chain: ChainId,
    previous: Digest | None,
    records: Sequence[AuditRecord],
    *,
    closed: bool,
    written_at: datetime,
    written_by: str,
) -> Digest:
    """The digest that follows `previous` (None: the chain's first) over `records`, the chain's
    records after `previous.last_seq` in seq order. A seq absent from `records` between two present
    ones is listed as None, so the digest states what the table held when it was written."""
    first = previous.last_seq + 1 if previous else 1
    by_seq = {r.seq: r for r in records}
    last = max(by_seq, default=first - 1)
    if min(by_seq, default=first) < first:
        raise ValueError(f"{chain}: records before seq {first} are already digested")
    hashes = tuple(by_seq[s].hash if s in by_seq else None for s in range(first, last + 1))
    head_seq, head_hash = (
        (last, by_seq[last].hash)
        if by_seq
        else ((previous.head_seq, previous.head_hash) if previous else (0, GENESIS_HASH))
    )
    return Digest(
        chain=chain,
        digest_seq=previous.digest_seq + 1 if previous else 1,
        prev_digest_hash=previous.digest_hash if previous else GENESIS_HASH,
        first_seq=first,
        record_hashes=hashes,
        head_seq=head_seq,
        head_hash=head_hash,
        closed=closed,
        written_at=written_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        written_by=written_by,
    )


def parse_signed_digest(document: Any) -> SignedDigest:
    """A stored digest document back as a SignedDigest; DigestFormatError naming what is wrong."""
    if not isinstance(document, Mapping) or set(document) != {"body", "signature"}:
        raise DigestFormatError("not a digest document (body and signature)")
    body, signature = document["body"], document["signature"]
    if not isinstance(body, Mapping) or not isinstance(signature, Mapping):
        raise DigestFormatError("body and signature must be objects")
    expected = {
        "format",
        "chain_id",
        "chain_day",
        "chain",
        "digest_seq",
        "prev_digest_hash",
        "first_seq",
        "last_seq",
        "record_hashes",
        "head",
        "closed",
        "written_at",
        "written_by",
    }
    if set(body) != expected:
        raise DigestFormatError(f"body fields differ from {DIGEST_FORMAT}")
    if body["format"] != DIGEST_FORMAT:
        raise DigestFormatError(f"format is not {DIGEST_FORMAT}")
    try:
        chain = ChainId.parse(body["chain_id"])
    except ValueError as exc:
        raise DigestFormatError(str(exc)) from None
    if (body["chain_day"], body["chain"]) != (chain.day, chain.chain):
        raise DigestFormatError("chain_day and chain do not match chain_id")
    numbers = {name: body[name] for name in ("digest_seq", "first_seq", "last_seq")}
    for name, value in numbers.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_SEQ:
            raise DigestFormatError(f"{name} is not a number in range")
    hashes = body["record_hashes"]
    if not isinstance(hashes, list) or not all(h is None or is_hash(h) for h in hashes):
        raise DigestFormatError("record_hashes must be a list of hashes (or null)")
    if not 1 <= numbers["digest_seq"] < MAX_DIGEST_SEQ or numbers["first_seq"] < 1:
        raise DigestFormatError("digest_seq and first_seq start at 1")
    if numbers["last_seq"] != numbers["first_seq"] + len(hashes) - 1:
        raise DigestFormatError("last_seq does not match the number of record hashes")
    head = body["head"]
    if not isinstance(head, Mapping) or set(head) != {"seq", "hash"}:
        raise DigestFormatError("head must be {seq, hash}")
    if not isinstance(head["seq"], int) or isinstance(head["seq"], bool) or not is_hash(head["hash"]):
        raise DigestFormatError("head must be a seq and a hash")
    if hashes and (head["seq"], head["hash"]) != (numbers["last_seq"], hashes[-1]):
        raise DigestFormatError("head is not the last record listed")
    if not hashes and head["seq"] != numbers["first_seq"] - 1:
        raise DigestFormatError("head of a digest without records must be the previous head")
    if not is_hash(body["prev_digest_hash"]):
        raise DigestFormatError("prev_digest_hash is not a hash")
    if not isinstance(body["closed"], bool):
        raise DigestFormatError("closed must be true or false")
    for name in ("written_at", "written_by"):
        if not isinstance(body[name], str) or not 0 < len(body[name]) <= 2048:
            raise DigestFormatError(f"{name} must be text")
    if set(signature) != {"key_id", "algorithm", "value"} or not all(
        isinstance(v, str) and v for v in signature.values()
    ):
        raise DigestFormatError("signature must be {key_id, algorithm, value}")
    try:
        value = base64.b64decode(signature["value"], validate=True)
    except (binascii.Error, ValueError):
        raise DigestFormatError("signature value is not base64") from None
    digest = Digest(
        chain=chain,
        digest_seq=numbers["digest_seq"],
        prev_digest_hash=body["prev_digest_hash"],
        first_seq=numbers["first_seq"],
        record_hashes=tuple(hashes),
        head_seq=head["seq"],
        head_hash=head["hash"],
        closed=body["closed"],
        written_at=body["written_at"],
        written_by=body["written_by"],
    )
    if digest.body() != dict(body):
        raise DigestFormatError("body does not round-trip")
    return SignedDigest(digest, signature["key_id"], signature["algorithm"], value)


def record_breaks(record: AuditRecord, chain: ChainId) -> list[ChainBreak]:
    """The rules one record must meet on its own: its hash, its chain and its day."""
    breaks: list[ChainBreak] = []
    where, seq = str(chain), record.seq
    if record.chain != chain:
        breaks.append(ChainBreak(where, seq, WRONG_CHAIN, "the record names another chain"))
    try:
        recomputed = record_hash(record.fields)
    except TypeError as exc:
        breaks.append(ChainBreak(where, seq, HASH_MISMATCH, str(exc)))
    else:
        if recomputed != record.hash:
            breaks.append(ChainBreak(where, seq, HASH_MISMATCH, "the record's fields do not match its hash"))
    # The API takes `now` once per request, so `at` is on the chain day; the day before is allowed
    # for an event whose time was taken just before midnight and appended just after.
    if record.at[:10] not in (chain.day, previous_day(chain.day)):
        breaks.append(ChainBreak(where, seq, WRONG_DAY, "the record's time is not on its chain day"))
    return breaks


class ChainVerifier:
    """Checks one chain incrementally (R-AUDIT), so a caller can stream it: records in seq order
    through `add_record`, the chain's digests in order through `add_digest` whenever
    `needs_digest(seq)` says the next record lies beyond the digests seen so far, then `finish`.

    `next_seq` and `prev_hash` start it part-way (a resumed verification): `prev_hash` None skips
    the first record's link check (the record before it is missing, already reported)."""

    def __init__(self, chain: ChainId, *, next_seq: int = 1, prev_hash: str | None = GENESIS_HASH) -> None:
        self.chain = chain
        self.breaks: list[ChainBreak] = []
        self.records = 0
        self.digests = 0
        self._expected = next_seq
        self._prev_hash = prev_hash
        self._last_digest: Digest | None = None  # the latest digest read, valid or not
        self._anchor: Digest | None = None  # the latest digest with a valid signature
        self._covered = 0  # the highest seq a valid digest covers
        self._closed_at: int | None = None
        self._unanchored: tuple[int, int] | None = None

    @property
    def next_seq(self) -> int:
        return self._expected

    @property
    def digest_seq(self) -> int:
        """The number of the latest digest read (0: none), where a resumed check picks up."""
        return self._last_digest.digest_seq if self._last_digest else 0

    def needs_digest(self, seq: int) -> bool:
        """Whether the chain's next digest should be read before record `seq`."""
        return self._last_digest is None or self._last_digest.last_seq < seq

    def _break(self, seq: int, reason: str, detail: str) -> None:
        self.breaks.append(ChainBreak(str(self.chain), seq, reason, detail))

    def digest_unreadable(self, digest_seq: int | None, detail: str) -> None:
        """A stored digest object that could not be read as a digest."""
        name = f"digest {digest_seq}" if digest_seq is not None else "a digest object"
        self._break(self._expected, DIGEST_FORMAT, f"{name}: {detail}")

    def add_digest(
        self, signed: SignedDigest, *, signature_valid: bool, replaced: bool = False, report: bool = True
    ) -> None:
        """The chain's next digest. `report` False takes it as already checked (a resumed check
        re-reads the digest it stopped in, whose breaks the previous page reported)."""
        digest, previous = signed.digest, self._last_digest
        number, first = digest.digest_seq, digest.first_seq
        expected_number = previous.digest_seq + 1 if previous else 1
        expected_hash = previous.digest_hash if previous else GENESIS_HASH
        expected_first = previous.last_seq + 1 if previous else 1
        found: list[tuple[str, str]] = []
        if digest.chain != self.chain:
            found.append((DIGEST_FORMAT, f"digest {number} is of {digest.chain}"))
        if not signature_valid:
            found.append(
                (
                    DIGEST_SIGNATURE,
                    f"digest {number} (seq {first}..{digest.last_seq}) is not signed by the audit"
                    " signing key",
                )
            )
        if number != expected_number:
            found.append((DIGEST_LINK, f"digest {number} read where {expected_number} is due"))
        if digest.prev_digest_hash != expected_hash:
            found.append((DIGEST_LINK, f"digest {number} does not link to digest {expected_number - 1}"))
        if first != expected_first:
            found.append((DIGEST_LINK, f"digest {number} starts at seq {first}, not {expected_first}"))
        if previous is not None and previous.closed:
            found.append((AFTER_CLOSE, f"digest {number} follows the closing digest"))
        if replaced:
            found.append(
                (
                    DIGEST_REPLACED,
                    f"digest {number} was overwritten or hidden after it was written; its first version"
                    " is checked",
                )
            )
        if report:
            for reason, detail in found:
                self._break(first, reason, detail)
        self.digests += 1 if report else 0
        self._last_digest = digest
        if signature_valid and digest.chain == self.chain:
            self._anchor = digest
            self._covered = max(self._covered, digest.last_seq)
            if digest.closed and self._closed_at is None:
                self._closed_at = digest.last_seq

    def add_record(self, record: AuditRecord) -> None:
        seq = record.seq
        self.records += 1
        link_checked = self._prev_hash is not None
        if seq > self._expected:
            last = seq - 1
            span = f"seq {self._expected}" if last == self._expected else f"seq {self._expected}..{last}"
            self._break(self._expected, MISSING, f"{span} missing before seq {seq}")
            link_checked = False  # the record before it is gone: its link cannot be checked
        elif seq < self._expected:
            self._break(seq, MISSING, f"seq {seq} read after seq {self._expected - 1}: out of order")
        if link_checked and record.prev_hash != self._prev_hash:
            self._break(seq, PREV_LINK, f"prev_hash is not the hash of seq {seq - 1}")
        self.breaks.extend(record_breaks(record, self.chain))
        self._compare_with_digest(record)
        self._prev_hash = record.hash
        self._expected = max(self._expected, seq + 1)

    def _compare_with_digest(self, record: AuditRecord) -> None:
        seq = record.seq
        if self._closed_at is not None and seq > self._closed_at:
            self._break(
                seq, AFTER_CLOSE, f"seq {seq} was written after the chain was closed at {self._closed_at}"
            )
            return
        anchor = self._anchor
        if anchor is not None and anchor.covers(seq):
            listed = anchor.hash_of(seq)
            if listed is None:
                self._break(
                    seq, DIGEST_MISMATCH, f"seq {seq} was absent when digest {anchor.digest_seq} was signed"
                )
            elif listed != record.hash:
                self._break(
                    seq,
                    DIGEST_MISMATCH,
                    f"the record's hash is not the one digest {anchor.digest_seq} signed",
                )
            return
        if seq > self._covered:
            first = self._unanchored[0] if self._unanchored else seq
            self._unanchored = (first, seq)

    def partial(self) -> ChainResult:
        """What the chain showed so far, without the end-of-chain checks (a verification that
        stopped part-way; `finish` when the chain has been read to its end)."""
        return self._result()

    def finish(self) -> ChainResult:
        """Records a digest lists that the table no longer holds (the newest deleted) are reported
        as missing from the first absent seq."""
        if self._covered >= self._expected:
            assert self._anchor is not None
            span = (
                f"seq {self._expected}"
                if self._covered == self._expected
                else f"seq {self._expected}..{self._covered}"
            )
            self._break(self._expected, MISSING, f"{span} signed in the digests but not in the table")
        return self._result()

    def _result(self) -> ChainResult:
        unanchored = Unanchored(str(self.chain), *self._unanchored) if self._unanchored else None
        return ChainResult(
            chain=self.chain,
            records=self.records,
            digests=self.digests,
            breaks=tuple(self.breaks),
            unanchored=unanchored,
            closed=self._closed_at is not None,
        )


def verify_records(
    chain: ChainId, records: Iterable[AuditRecord], digests: Iterable[tuple[SignedDigest, bool]] = ()
) -> ChainResult:
    """One whole chain at once (tests, small tools): `digests` as (digest, signature valid)."""
    verifier = ChainVerifier(chain)
    pending = iter(digests)
    exhausted = False

    def pull() -> bool:
        nonlocal exhausted
        item = None if exhausted else next(pending, None)
        if item is None:
            exhausted = True
            return False
        verifier.add_digest(item[0], signature_valid=item[1])
        return True

    for record in records:
        while verifier.needs_digest(record.seq) and pull():
            pass
        verifier.add_record(record)
    while pull():
        pass
    return verifier.finish()


@dataclass(frozen=True, slots=True)
class VerifyResume:
    """Where a verification that stopped early picks up (R-AUDIT `GET /audit/verify` pages)."""

    day: str
    chain: int
    seq: int
    digest_seq: int


@dataclass(slots=True)
class VerifyReport:
    """What a verification found over `days` (or the part of them done before it stopped)."""

    first_day: str
    last_day: str
    days: list[str] = field(default_factory=list)
    records: int = 0
    digests: int = 0
    chains: int = 0
    breaks: list[ChainBreak] = field(default_factory=list)
    breaks_omitted: int = 0
    unanchored: list[Unanchored] = field(default_factory=list)
    resume: VerifyResume | None = None

    MAX_BREAKS = 200
    """Breaks listed in one report; a tampered chain can break at every record after the change."""

    @property
    def intact(self) -> bool:
        return not self.breaks and not self.breaks_omitted

    @property
    def complete(self) -> bool:
        return self.resume is None

    def add(self, result: ChainResult, *, finished: bool = True) -> None:
        """`finished` False: the part of a chain checked before the verification stopped."""
        if result.chain.day not in self.days:
            self.days.append(result.chain.day)
        self.chains += 1 if finished else 0
        self.records += result.records
        self.digests += result.digests
        room = max(0, self.MAX_BREAKS - len(self.breaks))
        self.breaks.extend(result.breaks[:room])
        self.breaks_omitted += max(0, len(result.breaks) - room)
        if result.unanchored is not None:
            self.unanchored.append(result.unanchored)

    def as_dict(self) -> dict[str, object]:
        return {
            "intact": self.intact,
            "complete": self.complete,
            "from": self.first_day,
            "to": self.last_day,
            "days": list(self.days),
            "records": self.records,
            "digests": self.digests,
            "chains": self.chains,
            "first_break": self.breaks[0].as_dict() if self.breaks else None,
            "breaks": [b.as_dict() for b in self.breaks],
            "breaks_omitted": self.breaks_omitted,
            "unanchored": [u.as_dict() for u in self.unanchored],
        }
