"""What the match path reads of the voi table (docs/data-model.md, "what the match path reads").

Matching a batch of reads costs no lookup for a VRM that is on no list: `MatchIndex` keeps, per
execution environment, the singles directory (every VRM with a single entry) and each live list's
membership filter, refreshed from the state item at most every STATE_TTL_S seconds; only VRMs that
may be listed are looked up, all in one `BatchGetItem` per 100 keys (match items and bucket items
together)."""

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

from nas.adapters import store_call
from nas.adapters.dynamo import BATCH_GET_LIMIT, batch_get, from_item, to_item
from nas.adapters.voi_keys import (
    DIRECTORY_SHARDS,
    MATCH_RECORD,
    STATE_KEY,
    STATE_TTL_S,
    Key,
    active_attribute,
    bucket_key,
    decode_state,
    directory_key,
    key_of,
    match_key,
    raw_bytes,
    segment_key,
    shard_of,
    singles_attribute,
)
from nas.domain.models import VoiEntry
from nas.domain.voi_lists import ListGeneration, ListSource, PackedRow
from nas.domain.voi_packing import MembershipFilter, filter_mask, find_row, pack_generation
from nas.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BUCKET_CACHE = 2048
"""Bucket items a match environment keeps (about 3 KB each); generations never change once written."""


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
        self.items[key_of(item)] = dict(item)

    def get(self, key: Key) -> dict[str, Any] | None:
        self.calls += 1
        found = self.items.get(key_of(key))
        return dict(found) if found else None

    def batch_get(self, keys: Sequence[Key], *, consistent: bool = False) -> list[dict[str, Any]]:
        self.calls += math.ceil(len(keys) / BATCH_GET_LIMIT)
        return [dict(self.items[k]) for k in map(key_of, keys) if k in self.items]


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
        found = {key_of(item): item for item in self._items.batch_get(keys)} if keys else {}
        with self._lock:
            for import_id, bucket in missing:
                item = found.get(key_of(bucket_key(import_id, bucket)))
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
                key_of(item): item
                for item in self._items.batch_get([directory_key(s) for s in changed], consistent=True)
            }
            for shard in changed:
                item = found.get(key_of(directory_key(shard)))
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
        found = {key_of(item): item for item in self._items.batch_get(keys, consistent=True)}
        try:
            return MembershipFilter([raw_bytes(found[key_of(k)]["bits"]) for k in keys])
        except (KeyError, ValueError) as exc:
            # An active list without its filter cannot be matched; say so loudly and retry on the
            # next refresh rather than fail every batch of reads.
            logger.error(
                "list filter unreadable",
                extra={"source": generation.source, "import_id": generation.import_id, "error": str(exc)},
            )
            return None


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
        directory = self.items.items.setdefault(key_of(directory_key(shard)), {**directory_key(shard)})
        directory.setdefault("vrms", set()).add(entry.vrm)
        state = self.items.items.setdefault(key_of(STATE_KEY), dict(STATE_KEY))
        state[singles_attribute(shard)] = int(state.get(singles_attribute(shard), 0)) + 1
        self.index.invalidate()

    def put_list(self, generation: ListGeneration, rows: Iterable[PackedRow]) -> None:
        """A generation of `rows` (laid out as an import lays it out), then its source's pointer."""
        buckets, segments = pack_generation(generation, rows)
        for bucket, packed in buckets.items():
            self.items.put({**bucket_key(generation.import_id, bucket), "rows": packed})
        for group, bits in enumerate(segments):
            self.items.put({**segment_key(generation.import_id, group), "bits": bits})
        state = self.items.items.setdefault(key_of(STATE_KEY), dict(STATE_KEY))
        state[active_attribute(generation.source)] = generation.model_dump_json()
        self.index.invalidate()
