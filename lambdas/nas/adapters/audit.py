"""The audit table (R-AUDIT): appends to one of the day's hash chains and reads the chains back.

An append picks one of the day's `AUDIT_CHAINS_PER_DAY` chains at random, reads its head (Query,
newest first, Limit 1, consistent) and puts the next record with `attribute_not_exists(seq)`. A
writer that loses the race waits a short random time (so writers that collided do not collide again
in step) and tries another chain: the losers of one race spread out instead of queueing behind the
winner. The failed put returns the record that holds the position
(`ReturnValuesOnConditionCheckFailure`), so a put whose reply was lost and retried is recognised
as this append's own. The table's resource policy refuses UpdateItem, DeleteItem and
BatchWriteItem to everyone (catalogue `append_only`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from nas.adapters import StoreConflict, StoreRejected, store_call
from nas.adapters.dynamo import from_item, query_items, to_attribute, to_item
from nas.catalogue import AUDIT_CHAINS_PER_DAY
from nas.domain import audit
from nas.domain.audit import AuditRecord, ChainId
from nas.domain.timefmt import utc_date

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_APPEND_ATTEMPTS = 16
"""At the API's throttle about one first attempt in six loses a race and the second almost never
does; the bound is for a store saturated by writers (tests/adapters/test_audit_append.py: 16
writers back to back against a serialised moto, where half the first attempts lose and the ninth
attempt is about the longest seen). With the waits below, at most about 1.2 s in all."""
BACKOFF_BASE_S = 0.005
BACKOFF_CAP_S = 0.08
"""After the n-th lost race an append waits a random time below min(cap, base * 2**n)."""
CHAIN_KEY = "chain_id"
"""The table's partition key: `<day>/<n>`, derived from the hashed `chain_day` and `chain`."""


@dataclass(frozen=True, slots=True)
class IndexPosition:
    """Where an index query (by-user, by-lea) stopped: the last record's time and table key."""

    at: str
    chain: str
    seq: int


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Events between `start` and `end` (ISO instants, inclusive), newest first. `user` selects the
    by-user index; else `lea` the by-lea index; else every chain of every day between the two."""

    start: str
    end: str
    user: str | None = None
    lea: str | None = None
    method: str | None = None
    route: str | None = None


class AuditTrail(Protocol):
    def append(self, event: Mapping[str, Any], now: datetime) -> AuditRecord: ...

    def records(self, chain: ChainId, from_seq: int = 1) -> Iterator[AuditRecord]: ...

    def record(self, chain: ChainId, seq: int) -> AuditRecord | None: ...

    def chain_events(
        self, chain: ChainId, query: AuditQuery, below_seq: int | None, page: int
    ) -> Iterator[AuditRecord]: ...

    def index_events(
        self, query: AuditQuery, after: IndexPosition | None, page: int
    ) -> Iterator[tuple[AuditRecord, IndexPosition]]: ...


def _record(item: Mapping[str, Any]) -> AuditRecord:
    return _record_of(from_item(item))


def _record_of(fields: Mapping[str, Any]) -> AuditRecord:
    return AuditRecord({k: v for k, v in fields.items() if k != CHAIN_KEY})


class DynamoAuditTrail:
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        pick_chain: Callable[[int], int] = secrets.randbelow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table
        self._pick_chain = pick_chain
        self._sleep = sleep

    def append(self, event: Mapping[str, Any], now: datetime) -> AuditRecord:
        """Appends `event` (the fields of `audit.EVENT_FIELDS`) to a chain of `now`'s UTC day and
        returns the stored record. Raises StoreError when it cannot be stored (the caller must then
        refuse the request): StoreConflict when every attempt lost a race, StoreRejected for an
        event that cannot be a record (unknown fields, floats)."""
        day = utc_date(now)
        chain = ChainId(day, self._pick_chain(AUDIT_CHAINS_PER_DAY))
        with store_call("audit append"):
            for attempt in range(MAX_APPEND_ATTEMPTS):
                head = self._head(chain)
                seq, prev_hash = (head.seq + 1, head.hash) if head else (1, audit.GENESIS_HASH)
                try:
                    record = audit.chain_record(event, chain=chain, seq=seq, prev_hash=prev_hash)
                except (TypeError, ValueError) as exc:
                    raise StoreRejected(f"audit append: {exc}") from exc
                holder = self._put_if_free(record)
                if holder is None or holder.hash == record["hash"]:
                    # Stored; or stored by this very append, whose reply was lost and retried.
                    return AuditRecord(record)
                self._sleep(min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt) * secrets.randbelow(1000) / 1000)
                chain = self._other_chain(chain)
        raise StoreConflict(f"audit append: no free position after {MAX_APPEND_ATTEMPTS} attempts")

    def _other_chain(self, chain: ChainId) -> ChainId:
        step = 1 + self._pick_chain(AUDIT_CHAINS_PER_DAY - 1)
        return ChainId(chain.day, (chain.chain + step) % AUDIT_CHAINS_PER_DAY)

    def _put_if_free(self, record: Mapping[str, Any]) -> AuditRecord | None:
        """None when stored; else the record that holds the position (empty if not returned)."""
        item = to_item({**record, CHAIN_KEY: f"{record['chain_day']}/{record['chain']}"})
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(seq)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException as exc:
            held: Any = exc.response.get("Item")
            return _record(held) if isinstance(held, Mapping) else AuditRecord({})
        return None

    def _head(self, chain: ChainId) -> AuditRecord | None:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="#c = :c",
            ExpressionAttributeNames={"#c": CHAIN_KEY},
            ExpressionAttributeValues={":c": to_attribute(str(chain))},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        return _record(items[0]) if items else None

    def records(self, chain: ChainId, from_seq: int = 1) -> Iterator[AuditRecord]:
        """The records of `chain` from `from_seq` on, in seq order, page by page (never the whole
        chain in memory)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#c = :c AND seq >= :s",
            "ExpressionAttributeNames": {"#c": CHAIN_KEY},
            "ExpressionAttributeValues": {":c": to_attribute(str(chain)), ":s": to_attribute(from_seq)},
            "ConsistentRead": True,
        }
        with store_call("audit chain read"):
            for item in self._items(request):
                yield _record(item)

    def record(self, chain: ChainId, seq: int) -> AuditRecord | None:
        with store_call("audit record read"):
            # Query, not GetItem: the api role reads the trail with Query alone.
            response = self._client.query(
                TableName=self._table,
                KeyConditionExpression="#c = :c AND seq = :s",
                ExpressionAttributeNames={"#c": CHAIN_KEY},
                ExpressionAttributeValues={":c": to_attribute(str(chain)), ":s": to_attribute(seq)},
                ConsistentRead=True,
            )
        items = response.get("Items", [])
        return _record(items[0]) if items else None

    def _items(self, request: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        paged = dict(request)
        while True:
            response = self._client.query(**paged)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            paged["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _filter(self, query: AuditQuery, names: dict[str, str], values: dict[str, Any]) -> str | None:
        clauses: list[str] = []
        if query.method:
            names["#method"] = "method"
            values[":method"] = to_attribute(query.method)
            clauses.append("#method = :method")
        if query.route:
            names["#route"] = "route"
            values[":route"] = to_attribute(query.route)
            clauses.append("#route = :route")
        if query.user is not None and query.lea is not None:
            names["#lea"] = "lea"
            values[":lea"] = to_attribute(query.lea)
            clauses.append("#lea = :lea")
        return " AND ".join(clauses) or None

    def chain_events(
        self, chain: ChainId, query: AuditQuery, below_seq: int | None, page: int
    ) -> Iterator[AuditRecord]:
        """Records of `chain` within the query's window and filters, highest seq first, below
        `below_seq` when given; `page` items per Query."""
        names = {"#c": CHAIN_KEY, "#at": "at"}
        values = {
            ":c": to_attribute(str(chain)),
            ":start": to_attribute(query.start),
            ":end": to_attribute(query.end),
        }
        condition = "#c = :c"
        if below_seq is not None:
            values[":below"] = to_attribute(below_seq)
            condition += " AND seq < :below"
        filters = self._filter(query, names, values)
        window = "#at BETWEEN :start AND :end"
        request = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "FilterExpression": f"{filters} AND {window}" if filters else window,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": page,
        }
        with store_call("audit chain query"):
            for item in self._items(request):
                yield _record(item)

    def index_events(
        self, query: AuditQuery, after: IndexPosition | None, page: int
    ) -> Iterator[tuple[AuditRecord, IndexPosition]]:
        """Records of the query's user (by-user) or LEA (by-lea), newest first, each with its
        position, after `after` (the position of the last record of the previous page)."""
        key_name, key_value, index = (
            ("user", query.user, "by-user") if query.user is not None else ("lea", query.lea, "by-lea")
        )
        names = {"#pk": key_name, "#at": "at"}
        values = {
            ":pk": to_attribute(key_value),
            ":start": to_attribute(query.start),
            ":end": to_attribute(query.end),
        }
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#pk = :pk AND #at BETWEEN :start AND :end",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": page,
        }
        filters = self._filter(query, names, values)
        if filters:
            request["FilterExpression"] = filters
        start_key = (
            {key_name: key_value, "at": after.at, CHAIN_KEY: after.chain, "seq": after.seq} if after else None
        )
        with store_call("audit index query"):
            for item in query_items(self._client, request, start_key):
                position = IndexPosition(str(item.get("at")), str(item.get(CHAIN_KEY)), int(item["seq"]))
                yield _record_of(item), position
