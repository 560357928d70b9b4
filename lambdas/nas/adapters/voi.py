"""The voi table (docs/data-model.md): single entries, each VRM's match item and the singles
directory; the list state item and bulk-list generations (written by `nas.adapters.voi_lists`).

This module holds single entries and the match path's reads. Matching a batch of reads costs no
lookup for a VRM that is on no list: the match path keeps, per execution environment, the singles
directory (every VRM with a single entry) and each live list's membership filter, refreshed from
the state item at most every STATE_TTL_S seconds; only VRMs that may be listed are looked up, all in
one `BatchGetItem` per 100 keys (match items and bucket items together).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from pydantic import ValidationError

from nas.adapters import StoreConflict, store_call
from nas.adapters.dynamo import BATCH_GET_LIMIT, batch_get, from_item, query_items, to_attribute, to_item
from nas.domain import policy
from nas.domain.models import VoiEntry
from nas.domain.timefmt import iso_utc
from nas.domain.voi import Revision, VoiRecord
from nas.domain.voi_lists import (
    Claim,
    ListGeneration,
    ListSource,
    ListState,
    MembershipFilter,
    PackedRow,
    filter_mask,
    find_row,
    pack_generation,
)
from nas.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MATCH_RECORD = "MATCH"
ENTRY_PREFIX = "ENTRY#"
STATE_KEY = {"vrm": "#VOI", "record": "STATE"}
DIRECTORY_SHARDS = 64
"""The singles directory is this many items (a String Set of VRMs each): a write touches one, and
the match path re-reads only the ones whose version moved."""
STATE_TTL_S = 5.0
"""How long the match path trusts its copy of the state item: a new single entry matches, and a
replaced list stops matching, within this long (R-VOI-BULK asks for one minute)."""
BUCKET_CACHE = 2048
"""Bucket items a match environment keeps (about 3 KB each); generations never change once written."""
MAX_WRITE_ATTEMPTS = 5

Key = Mapping[str, str]


def directory_key(shard: int) -> dict[str, str]:
    return {"vrm": f"#SINGLES#{shard:02d}", "record": "DIRECTORY"}


def shard_of(vrm: str) -> int:
    return zlib.crc32(vrm.encode("ascii")) % DIRECTORY_SHARDS


def bucket_key(import_id: str, bucket: int) -> dict[str, str]:
    return {"vrm": f"#LIST#{import_id}#{bucket}", "record": "ROWS"}


def segment_key(import_id: str, group: int) -> dict[str, str]:
    return {"vrm": f"#LIST#{import_id}#F{group}", "record": "FILTER"}


def match_key(vrm: str) -> dict[str, str]:
    return {"vrm": vrm, "record": MATCH_RECORD}


def entry_key(vrm: str, voi_id: str) -> dict[str, str]:
    return {"vrm": vrm, "record": f"{ENTRY_PREFIX}{voi_id}"}


def _key_of(item: Mapping[str, Any]) -> tuple[str, str]:
    return str(item["vrm"]), str(item["record"])


def raw_bytes(value: Any) -> bytes:
    """A binary attribute as bytes (boto3 deserialises them as `Binary`)."""
    return bytes(value)  # `Binary` converts itself


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


# --- the state item -------------------------------------------------------------------------------


def active_attribute(source: ListSource) -> str:
    return f"active_{source.value}"


def claim_attribute(source: ListSource) -> str:
    return f"claim_{source.value}"


def singles_attribute(shard: int) -> str:
    return f"singles_{shard:02d}"


def decode_state(item: Mapping[str, Any] | None) -> tuple[ListState, dict[int, int]]:
    """The list state and the singles directory's shard versions held by the state item."""
    item = item or {}
    active: dict[ListSource, ListGeneration] = {}
    claims: dict[ListSource, Claim] = {}
    for source in ListSource:
        raw = item.get(active_attribute(source))
        if isinstance(raw, str):
            try:
                active[source] = ListGeneration.model_validate_json(raw)
            except ValidationError as exc:
                logger.error("invalid active list generation", extra={"source": source, "error": str(exc)})
        claim = item.get(claim_attribute(source))
        if isinstance(claim, Mapping):
            claims[source] = Claim(import_id=str(claim["import_id"]), order=str(claim["order"]))
    versions = {s: int(item.get(singles_attribute(s), 0)) for s in range(DIRECTORY_SHARDS)}
    return ListState(active=active, claims=claims), versions


# --- what the match path reads --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VrmListing:
    """What the match path needs to know about one VRM: its entries (single and bulk, live or not:
    the caller checks expiry at its `now`) and whether the white list holds it (R-WHITE)."""

    entries: tuple[VoiEntry, ...]
    white_listed: bool = False


class VoiLookup(Protocol):
    def listings(self, vrms: Collection[str]) -> dict[str, VrmListing]:
        """The listing of each VRM that is on a list or has a single entry; others are absent."""
        ...


class VoiItems(Protocol):
    """The reads the match path makes of the voi table."""

    def get(self, key: Key) -> dict[str, Any] | None:
        """One item, strongly consistent."""
        ...

    def batch_get(self, keys: Sequence[Key], *, consistent: bool = False) -> list[dict[str, Any]]:
        """The items that exist among `keys`, in BatchGetItem calls of at most 100 keys."""
        ...


class DynamoVoiItems:
    def __init__(self, client: DynamoDBClient, table: str, *, sleep: Callable[[float], None] = time.sleep):
        self._client = client
        self._table = table
        self._sleep = sleep

    def get(self, key: Key) -> dict[str, Any] | None:
        with store_call("voi get"):
            response = self._client.get_item(TableName=self._table, Key=to_item(key), ConsistentRead=True)
        item = response.get("Item")
        return from_item(item) if item else None

    def batch_get(self, keys: Sequence[Key], *, consistent: bool = False) -> list[dict[str, Any]]:
        with store_call("voi batch get"):
            return batch_get(self._client, self._table, keys, consistent=consistent, sleep=self._sleep)


class InMemoryVoiItems:
    """The voi table's items in a dict, counting calls as DynamoDB would bill them: for the unit
    tests and the pipeline benchmark (`calls` is its VOI lookup count)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls = 0

    def put(self, item: Mapping[str, Any]) -> None:
        self.items[_key_of(item)] = dict(item)

    def get(self, key: Key) -> dict[str, Any] | None:
        self.calls += 1
        found = self.items.get(_key_of(key))
        return dict(found) if found else None

    def batch_get(self, keys: Sequence[Key], *, consistent: bool = False) -> list[dict[str, Any]]:
        self.calls += math.ceil(len(keys) / BATCH_GET_LIMIT)
        return [dict(self.items[k]) for k in map(_key_of, keys) if k in self.items]


def _valid_entries(vrm: str, stored: Mapping[str, str]) -> list[VoiEntry]:
    """The match item's entries that still validate. One malformed entry (an older schema, a hand
    edit) is logged and left out rather than failing every batch that reads this VRM."""
    entries = []
    for voi_id, raw in stored.items():
        try:
            entries.append(VoiEntry.model_validate_json(raw))
        except ValidationError as exc:
            logger.error(
                "invalid VOI entry in match item", extra={"vrm": vrm, "voi_id": voi_id, "error": str(exc)}
            )
    return entries


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What the match path knows between refreshes of the state item."""

    shards: tuple[frozenset[str], ...]
    lists: tuple[tuple[ListGeneration, MembershipFilter], ...]
    white: tuple[ListGeneration, MembershipFilter] | None
    union: Callable[[int], int] | None
    """The union of the lists' filters (`mask_if_passed`): a VRM on no list is told so by one probe."""


_EMPTY = _Snapshot(shards=(frozenset(),) * DIRECTORY_SHARDS, lists=(), white=None, union=None)


@dataclass(frozen=True, slots=True)
class _Plan:
    vrm: str
    singles: bool
    buckets: tuple[tuple[ListGeneration, int], ...]
    white_bucket: tuple[ListGeneration, int] | None


class MatchIndex:
    """The match path's view of the voi table: which VRMs may have entries, and their listings.

    Shared by the pollers of one local-mode process, so its caches are guarded by a lock; in Lambda
    one batch runs at a time."""

    def __init__(
        self,
        items: VoiItems,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        state_ttl_s: float = STATE_TTL_S,
        bucket_cache: int = BUCKET_CACHE,
    ) -> None:
        self._items = items
        self._clock = clock
        self._monotonic = monotonic
        self._ttl = state_ttl_s
        self._cache_size = bucket_cache
        self._lock = threading.Lock()
        self._snapshot = _EMPTY
        self._refreshed_at = -math.inf
        self._shard_versions: dict[int, int] = {}
        self._filters: dict[str, MembershipFilter] = {}
        self._union_of: tuple[tuple[str, ...], Callable[[int], int] | None] = ((), None)
        self._buckets: OrderedDict[tuple[str, int], bytes] = OrderedDict()

    def listings(self, vrms: Collection[str]) -> dict[str, VrmListing]:
        snapshot = self._fresh()
        now = self._clock()
        plans = self._plans(vrms, snapshot, now)
        if not plans:
            return {}
        singles = self._fetch(plans)
        listings: dict[str, VrmListing] = {}
        for plan in plans:
            entries = list(singles.get(plan.vrm, ()))
            for generation, bucket in plan.buckets:
                row = self._row(generation, bucket, plan.vrm)
                if row is not None:
                    entry = self._entry(generation, row)
                    if entry is not None:
                        entries.append(entry)
            if not entries:
                continue
            white = plan.white_bucket is not None and self._row(*plan.white_bucket, plan.vrm) is not None
            listings[plan.vrm] = VrmListing(tuple(entries), white)
        return listings

    def invalidate(self) -> None:
        """Forget the state item, so the next lookup reads it (tools and tests after a change)."""
        with self._lock:
            self._refreshed_at = -math.inf

    # --- planning ---------------------------------------------------------------------------------

    @staticmethod
    def _plans(vrms: Collection[str], snapshot: _Snapshot, now: datetime) -> list[_Plan]:
        """Which VRMs need a lookup, and of which items: the hot loop of the match path, so the
        filters are probed inline."""
        lists = [(g, f.probe) for g, f in snapshot.lists if g.is_live(now)]
        white = snapshot.white if snapshot.white and snapshot.white[0].is_live(now) else None
        shards, union = snapshot.shards, snapshot.union
        crc32, blake2b, from_bytes = zlib.crc32, hashlib.blake2b, int.from_bytes
        plans = []
        for vrm in vrms:
            encoded = vrm.encode("ascii")
            singles = vrm in shards[crc32(encoded) % DIRECTORY_SHARDS]
            if not (lists or (white and singles)):
                if singles:
                    plans.append(_Plan(vrm, True, (), None))
                continue
            hashed = from_bytes(blake2b(encoded, digest_size=16).digest(), "little")  # vrm_hash
            mask = union(hashed) if union is not None else 0
            buckets = [(g, g.bucket_of(hashed)) for g, probe in lists if probe(hashed, mask)] if mask else []
            white_bucket = None
            # R-WHITE matters only for bulk-list hits, so the white list is looked up only then.
            if white and (singles or buckets):
                white_mask = mask or filter_mask(hashed)
                if white[1].may_contain(hashed, white_mask):
                    white_bucket = (white[0], white[0].bucket_of(hashed))
            if singles or buckets:
                plans.append(_Plan(vrm, singles, tuple(buckets), white_bucket))
        return plans

    def _fetch(self, plans: list[_Plan]) -> dict[str, list[VoiEntry]]:
        """One BatchGetItem (per 100 keys) for the match items and the bucket items not cached."""
        keys: list[Key] = [match_key(p.vrm) for p in plans if p.singles]
        wanted: dict[tuple[str, int], ListGeneration] = {}
        for plan in plans:
            for generation, bucket in (*plan.buckets, *([plan.white_bucket] if plan.white_bucket else [])):
                wanted[(generation.import_id, bucket)] = generation
        with self._lock:
            missing = [k for k in wanted if k not in self._buckets]
        keys += [bucket_key(import_id, bucket) for import_id, bucket in missing]
        found = {_key_of(item): item for item in self._items.batch_get(keys)} if keys else {}
        with self._lock:
            for import_id, bucket in missing:
                item = found.get(_key_of(bucket_key(import_id, bucket)))
                self._buckets[(import_id, bucket)] = raw_bytes(item["rows"]) if item else b""
            while len(self._buckets) > self._cache_size:
                self._buckets.popitem(last=False)
        singles: dict[str, list[VoiEntry]] = {}
        for plan in plans:
            item = found.get((plan.vrm, MATCH_RECORD)) if plan.singles else None
            if item is not None:
                singles[plan.vrm] = _valid_entries(plan.vrm, item.get("entries", {}))
        return singles

    def _row(self, generation: ListGeneration, bucket: int, vrm: str) -> PackedRow | None:
        with self._lock:
            raw = self._buckets.get((generation.import_id, bucket))
            if raw is not None:
                self._buckets.move_to_end((generation.import_id, bucket))
        if not raw:
            return None
        try:
            return find_row(raw, vrm)
        except (zlib.error, orjson.JSONDecodeError) as exc:
            logger.error(
                "unreadable list bucket", extra={"import_id": generation.import_id, "error": str(exc)}
            )
            return None

    @staticmethod
    def _entry(generation: ListGeneration, row: PackedRow) -> VoiEntry | None:
        try:
            return generation.entry(row)
        except (ValidationError, ValueError) as exc:
            logger.error("invalid list row", extra={"import_id": generation.import_id, "error": str(exc)})
            return None

    # --- the state item ---------------------------------------------------------------------------

    def _fresh(self) -> _Snapshot:
        with self._lock:
            if self._monotonic() - self._refreshed_at < self._ttl:
                return self._snapshot
            self._refresh()
            return self._snapshot

    def _refresh(self) -> None:
        state, versions = decode_state(self._items.get(STATE_KEY))
        shards = list(self._snapshot.shards)
        changed = [s for s in range(DIRECTORY_SHARDS) if self._shard_versions.get(s) != versions[s]]
        if changed:
            found = {
                _key_of(item): item
                for item in self._items.batch_get([directory_key(s) for s in changed], consistent=True)
            }
            for shard in changed:
                item = found.get(_key_of(directory_key(shard)))
                shards[shard] = frozenset(item.get("vrms", ())) if item else frozenset()
                self._shard_versions[shard] = versions[shard]
        live = state.live(self._clock())
        filters = {}
        for generation in live.values():
            loaded = self._filters.get(generation.import_id) or self._load_filter(generation)
            if loaded is not None:
                filters[generation.import_id] = loaded
        self._filters = filters
        lists = tuple(
            (g, filters[g.import_id])
            for source, g in sorted(live.items())
            if source is not ListSource.WHITELIST and g.import_id in filters
        )
        white = live.get(ListSource.WHITELIST)
        self._snapshot = _Snapshot(
            shards=tuple(shards),
            lists=lists,
            white=(white, filters[white.import_id]) if white and white.import_id in filters else None,
            union=self._union(lists),
        )
        self._refreshed_at = self._monotonic()

    def _union(self, lists: Sequence[tuple[ListGeneration, MembershipFilter]]) -> Callable[[int], int] | None:
        """The lists' union filter, built again only when the set of lists changes."""
        ids = tuple(g.import_id for g, _ in lists)
        if self._union_of[0] != ids:
            union = MembershipFilter.union([f for _, f in lists]).mask_if_passed if lists else None
            self._union_of = (ids, union)
        return self._union_of[1]

    def _load_filter(self, generation: ListGeneration) -> MembershipFilter | None:
        keys = [segment_key(generation.import_id, g) for g in range(generation.groups)]
        found = {_key_of(item): item for item in self._items.batch_get(keys, consistent=True)}
        try:
            return MembershipFilter([raw_bytes(found[_key_of(k)]["bits"]) for k in keys])
        except (KeyError, ValueError) as exc:
            # An active list without its filter cannot be matched; say so loudly and retry on the
            # next refresh rather than fail every batch of reads.
            logger.error(
                "list filter unreadable",
                extra={"source": generation.source, "import_id": generation.import_id, "error": str(exc)},
            )
            return None


# --- single entries -------------------------------------------------------------------------------


class ConcurrentUpdateError(StoreConflict):
    """The match item kept changing under a write; the caller may retry later."""


class EntryChanged(StoreConflict):
    """The entry is not at the version the change was made against (changed or removed meanwhile)."""


def entry_item(record: VoiRecord) -> dict[str, Any]:
    """The stored form of a single entry: its fields (instants in the fixed-width form, so
    `review_due_at` sorts in the by-owner-review index), TTL in epoch seconds, history, version."""
    entry = record.entry
    item: dict[str, Any] = entry.model_dump(mode="json")
    item.update(
        record=f"{ENTRY_PREFIX}{entry.voi_id}",
        created_at=iso_utc(entry.created_at),
        last_revised_at=iso_utc(entry.last_revised_at),
        review_due_at=iso_utc(entry.review_due_at),
        expires_at=epoch(entry.expires_at),
        revisions=[r.model_dump(mode="json") for r in record.revisions],
        revisions_omitted=record.revisions_omitted,
        version=record.version,
    )
    return item


def record_of_item(item: Mapping[str, Any]) -> VoiRecord:
    fields = {name: item[name] for name in VoiEntry.model_fields if name in item and name != "expires_at"}
    revised = datetime.fromisoformat(str(item["last_revised_at"]).replace("Z", "+00:00"))
    fields["expires_at"] = policy.voi_expires_at(revised)
    return VoiRecord(
        entry=VoiEntry.model_validate(fields, strict=False),
        revisions=tuple(Revision.model_validate(r) for r in item.get("revisions", [])),
        revisions_omitted=int(item.get("revisions_omitted", 0)),
        version=int(item.get("version", 0)),
    )


def _is_live(raw: str, now: datetime) -> bool:
    try:
        return VoiEntry.model_validate_json(raw).is_live(now)
    except ValidationError:
        return False  # dropped from the match item; the entry item stays for the record


@dataclass(frozen=True, slots=True)
class ReviewPosition:
    """Where a page of due reviews stopped (keyset)."""

    review_due_at: str
    vrm: str
    voi_id: str


class DynamoVoiStore:
    """Single entries (R-VOI) and the match path's reads. Every change of an entry is one transaction
    over the entry item, the VRM's match item and, when the VRM joins or leaves the directory, its
    directory shard (and the shard's version in the state item)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        state_ttl_s: float = STATE_TTL_S,
    ) -> None:
        self._client = client
        self._table = table
        self._sleep = sleep
        self.index = MatchIndex(
            DynamoVoiItems(client, table, sleep=sleep),
            clock=clock,
            monotonic=monotonic,
            state_ttl_s=state_ttl_s,
        )

    def listings(self, vrms: Collection[str]) -> dict[str, VrmListing]:
        return self.index.listings(vrms)

    # --- reads ------------------------------------------------------------------------------------

    def record(self, voi_id: str) -> VoiRecord | None:
        """The single entry `voi_id`, live or not, read consistently."""
        with store_call("voi entry by id"):
            found = list(
                query_items(
                    self._client,
                    {
                        "TableName": self._table,
                        "IndexName": "by-voi-id",
                        "KeyConditionExpression": "voi_id = :id",
                        "ExpressionAttributeValues": to_item({":id": voi_id}),
                        "ProjectionExpression": "vrm, #record",
                        "ExpressionAttributeNames": {"#record": "record"},
                    },
                )
            )
            for key in found:
                response = self._client.get_item(
                    TableName=self._table, Key=to_item(entry_key(key["vrm"], voi_id)), ConsistentRead=True
                )
                if "Item" in response:
                    return self._record(from_item(response["Item"]))
        return None

    def records_of(self, vrm: str) -> list[VoiRecord]:
        """Every single entry of `vrm`, live or not."""
        with store_call("voi entries of a vrm"):
            items = list(
                query_items(
                    self._client,
                    {
                        "TableName": self._table,
                        "KeyConditionExpression": "vrm = :v AND begins_with(#record, :prefix)",
                        "ExpressionAttributeNames": {"#record": "record"},
                        "ExpressionAttributeValues": to_item({":v": vrm, ":prefix": ENTRY_PREFIX}),
                        "ConsistentRead": True,
                    },
                )
            )
        return [r for r in map(self._record, items) if r is not None]

    def due(
        self, owner_lea: str, *, after: datetime, before: datetime, limit: int, start: ReviewPosition | None
    ) -> tuple[list[VoiRecord], ReviewPosition | None]:
        """Entries of `owner_lea` whose review falls in (after, before), earliest first (R-VOI-28)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by-owner-review",
            "KeyConditionExpression": "owner_lea = :o AND review_due_at BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": to_item(
                {":o": owner_lea, ":lo": iso_utc(after), ":hi": iso_utc(before)}
            ),
            "Limit": limit + 1,
        }
        if start is not None:
            request["ExclusiveStartKey"] = to_item(
                {
                    "owner_lea": owner_lea,
                    "review_due_at": start.review_due_at,
                    **entry_key(start.vrm, start.voi_id),
                }
            )
        with store_call("voi reviews due"):
            response = self._client.query(**request)
        items = response.get("Items", [])
        records = [r for r in (self._record(from_item(i)) for i in items[:limit]) if r is not None]
        more = len(items) > limit or "LastEvaluatedKey" in response
        last = records[-1].entry if records and more else None
        position = ReviewPosition(iso_utc(last.review_due_at), last.vrm, last.voi_id) if last else None
        return records, position

    def expired(self, owner_lea: str, *, now: datetime) -> list[VoiRecord]:
        """Entries of `owner_lea` past their expiry at `now` that TTL has not removed yet."""
        latest_due = iso_utc(now - policy.VOI_EXPIRE_AFTER + policy.VOI_REVIEW_AFTER)
        with store_call("voi expired entries"):
            items = list(
                query_items(
                    self._client,
                    {
                        "TableName": self._table,
                        "IndexName": "by-owner-review",
                        "KeyConditionExpression": "owner_lea = :o AND review_due_at <= :due",
                        "ExpressionAttributeValues": to_item({":o": owner_lea, ":due": latest_due}),
                    },
                )
            )
        return [r for r in map(self._record, items) if r is not None and not r.entry.is_live(now)]

    @staticmethod
    def _record(item: Mapping[str, Any]) -> VoiRecord | None:
        try:
            return record_of_item(item)
        except (ValidationError, KeyError, ValueError) as exc:
            logger.error("invalid VOI entry item", extra={"vrm": item.get("vrm"), "error": str(exc)})
            return None

    # --- writes -----------------------------------------------------------------------------------

    def put(self, entry: VoiEntry, *, now: datetime) -> None:
        """Writes `entry` as a new record whatever was there (tools, demo data, tests)."""
        self._change(
            entry.vrm,
            now=now,
            entry_op={"Put": {"TableName": self._table, "Item": to_item(entry_item(VoiRecord(entry=entry)))}},
            put=entry,
        )

    def create(self, record: VoiRecord, *, now: datetime) -> None:
        self._change(
            record.entry.vrm,
            now=now,
            entry_op={
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(entry_item(record)),
                    "ConditionExpression": "attribute_not_exists(#record)",
                    "ExpressionAttributeNames": {"#record": "record"},
                }
            },
            put=record.entry,
        )

    def replace(self, record: VoiRecord, *, expected_version: int, now: datetime) -> None:
        """A revision: the entry must still be at `expected_version`."""
        self._change(
            record.entry.vrm,
            now=now,
            entry_op={
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(entry_item(record)),
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": {":expected": to_attribute(expected_version)},
                }
            },
            put=record.entry,
        )

    def delete(self, record: VoiRecord, *, now: datetime) -> None:
        """R-VOI-DEL: the entry and its copy in the match item go in one transaction."""
        entry = record.entry
        self._change(
            entry.vrm,
            now=now,
            entry_op={
                "Delete": {
                    "TableName": self._table,
                    "Key": to_item(entry_key(entry.vrm, entry.voi_id)),
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": {":expected": to_attribute(record.version)},
                }
            },
            remove=entry.voi_id,
        )

    def settle(self, vrm: str, *, now: datetime) -> None:
        """Rebuilds the VRM's match item from its entry items after some were removed outside this
        code (DynamoDB TTL, R-VOI-56): the match item keeps exactly the live entries that still
        exist, so an expired entry leaves no copy behind."""
        present = {r.entry.voi_id for r in self.records_of(vrm) if r.entry.is_live(now)}
        self._change(vrm, now=now, entry_op=None, keep=present)

    def _change(
        self,
        vrm: str,
        *,
        now: datetime,
        entry_op: dict[str, Any] | None,
        put: VoiEntry | None = None,
        remove: str | None = None,
        keep: Collection[str] | None = None,
    ) -> None:
        for _ in range(MAX_WRITE_ATTEMPTS):
            with store_call("voi match item read"):
                response = self._client.get_item(
                    TableName=self._table, Key=to_item(match_key(vrm)), ConsistentRead=True
                )
            match = from_item(response["Item"]) if "Item" in response else None
            stored: dict[str, str] = match.get("entries", {}) if match else {}
            entries = {
                voi_id: raw
                for voi_id, raw in stored.items()
                if voi_id != remove and (keep is None or voi_id in keep) and _is_live(raw, now)
            }
            if put is not None:
                entries[put.voi_id] = put.model_dump_json()
            operations = [entry_op] if entry_op else []
            operations += self._match_operations(vrm, match, entries)
            if not operations:
                return
            with store_call("voi entry write"):
                try:
                    self._client.transact_write_items(TransactItems=operations)  # type: ignore[arg-type]
                    return
                except self._client.exceptions.TransactionCanceledException as exc:
                    reasons = exc.response.get("CancellationReasons", [])
                    if entry_op and reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                        raise EntryChanged(f"entry of {vrm} changed meanwhile") from None
            self._sleep(0.05)
        raise ConcurrentUpdateError(f"match item of {vrm} kept changing; not written")

    def _match_operations(
        self, vrm: str, match: Mapping[str, Any] | None, entries: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        version = int(match.get("version", 0)) if match else 0
        guard = {
            "ConditionExpression": "attribute_not_exists(version) OR version = :seen",
            "ExpressionAttributeValues": {":seen": to_attribute(version)},
        }
        shard = shard_of(vrm)
        directory = {"TableName": self._table, "Key": to_item(directory_key(shard))}
        operations: list[dict[str, Any]] = []
        if entries:
            expires = max(VoiEntry.model_validate_json(raw).expires_at for raw in entries.values())
            item = {
                **match_key(vrm),
                "entries": dict(entries),
                "expires_at": epoch(expires),
                "version": version + 1,
            }
            operations.append({"Put": {"TableName": self._table, "Item": to_item(item), **guard}})
            if match is None:
                # The VRM joins the directory; the shard's new version makes match environments
                # re-read it at their next refresh.
                operations.append(
                    {
                        "Update": {
                            **directory,
                            "UpdateExpression": "ADD vrms :vrm",
                            "ExpressionAttributeValues": {":vrm": {"SS": [vrm]}},
                        }
                    }
                )
                operations.append(
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": to_item(STATE_KEY),
                            "UpdateExpression": "ADD #shard :one",
                            "ExpressionAttributeNames": {"#shard": singles_attribute(shard)},
                            "ExpressionAttributeValues": {":one": to_attribute(1)},
                        }
                    }
                )
        elif match is not None:
            operations.append({"Delete": {"TableName": self._table, "Key": to_item(match_key(vrm)), **guard}})
            # Leaving the directory needs no version change: a cached directory that still lists the
            # VRM costs one lookup that finds nothing.
            operations.append(
                {
                    "Update": {
                        **directory,
                        "UpdateExpression": "DELETE vrms :vrm",
                        "ExpressionAttributeValues": {":vrm": {"SS": [vrm]}},
                    }
                }
            )
        return operations


# --- in memory (unit tests and the pipeline benchmark) ----------------------------------------------


class InMemoryVoiStore:
    """The match path's reads over an in-memory table laid out as the voi table, so tests and the
    benchmark run the real planning and count the calls DynamoDB would get (`lookup_calls`)."""

    def __init__(self, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.items = InMemoryVoiItems()
        self.index = MatchIndex(self.items, clock=clock, state_ttl_s=math.inf)
        self._shard_versions: dict[int, int] = {}

    @property
    def lookup_calls(self) -> int:
        return self.items.calls

    def listings(self, vrms: Collection[str]) -> dict[str, VrmListing]:
        return self.index.listings(vrms)

    def put(self, entry: VoiEntry) -> None:
        """A single entry: its match item and its VRM in the directory."""
        key = (entry.vrm, MATCH_RECORD)
        match = self.items.items.setdefault(key, {**match_key(entry.vrm), "entries": {}})
        match["entries"][entry.voi_id] = entry.model_dump_json()
        shard = shard_of(entry.vrm)
        directory = self.items.items.setdefault(_key_of(directory_key(shard)), {**directory_key(shard)})
        directory.setdefault("vrms", set()).add(entry.vrm)
        state = self.items.items.setdefault(_key_of(STATE_KEY), dict(STATE_KEY))
        state[singles_attribute(shard)] = int(state.get(singles_attribute(shard), 0)) + 1
        self.index.invalidate()

    def put_list(self, generation: ListGeneration, rows: Iterable[PackedRow]) -> None:
        """A generation of `rows` (laid out as an import lays it out), then its source's pointer."""
        buckets, segments = pack_generation(generation, rows)
        for bucket, packed in buckets.items():
            self.items.put({**bucket_key(generation.import_id, bucket), "rows": packed})
        for group, bits in enumerate(segments):
            self.items.put({**segment_key(generation.import_id, group), "bits": bits})
        state = self.items.items.setdefault(_key_of(STATE_KEY), dict(STATE_KEY))
        state[active_attribute(generation.source)] = generation.model_dump_json()
        self.index.invalidate()


__all__ = [
    "DIRECTORY_SHARDS",
    "STATE_KEY",
    "DynamoVoiStore",
    "InMemoryVoiStore",
    "MatchIndex",
    "VoiLookup",
    "VrmListing",
]
