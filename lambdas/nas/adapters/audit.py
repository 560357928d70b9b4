"""The audit table (R-AUDIT): appends to the day's hash chain and reads it back.

An append finds the day's head (Query, newest first, Limit 1) and puts the next record with
`attribute_not_exists(seq)`; a concurrent writer that took that position makes it re-read the head
and try again. The first append of a day seals the previous day (when it has records) and links to
the seal, so nothing can be appended to a day after the next day's chain has linked to it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from nas.adapters import StoreError
from nas.adapters.dynamo import from_item, query_items, to_attribute, to_item
from nas.domain import audit
from nas.domain.timefmt import iso_utc, utc_date

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_APPEND_ATTEMPTS = 20
MAX_SEQ = 10**9
"""Bound on a page cursor's `seq` (far above any day's records), so DynamoDB can take it as a number."""


class InvalidCursor(ValueError):
    """A page cursor that does not belong to this query."""


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Events between `start` and `end` (ISO instants, inclusive), newest first. `user` selects the
    by-user index; else `lea` the by-lea index; else every day's chain between the two."""

    start: str
    end: str
    user: str | None = None
    lea: str | None = None
    method: str | None = None
    route: str | None = None


class AuditTrail(Protocol):
    def append(self, event: Mapping[str, Any], now: datetime) -> dict[str, Any]: ...

    def day(self, chain_day: str) -> list[dict[str, Any]]: ...

    def last_hash_before(self, chain_day: str) -> str: ...

    def events(
        self, query: AuditQuery, limit: int, cursor: Mapping[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]: ...


class DynamoAuditTrail:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    # --- append ----------------------------------------------------------------------------------

    def append(self, event: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """Appends `event` to the chain of `now`'s UTC day; returns the stored record. Raises
        StoreError when it cannot (the caller must then refuse the request)."""
        try:
            return self._append(event, now)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"audit record not stored: {exc}") from exc

    def _append(self, event: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        day = utc_date(now)
        for _ in range(MAX_APPEND_ATTEMPTS):
            head = self._head(day)
            if head is not None and head.get("kind") == audit.KIND_SEAL:
                day = audit.next_day(day)  # the next day has already started: continue there
                continue
            if head is None:
                prev_hash = self._open_day(day, now)
                if prev_hash is None:
                    continue
                seq = 1
            else:
                prev_hash, seq = str(head["hash"]), int(head["seq"]) + 1
            record = audit.chain_record(event, chain_day=day, seq=seq, prev_hash=prev_hash)
            if self._put_if_free(record):
                return record
        raise StoreError(f"audit chain {day}: no free position after {MAX_APPEND_ATTEMPTS} attempts")

    def _open_day(self, day: str, now: datetime) -> str | None:
        """The prev_hash of `day`'s first record: the previous day's seal (written now if needed), or
        GENESIS_HASH when that day is empty. None when another writer got in first (re-read)."""
        before = audit.previous_day(day)
        head = self._head(before)
        if head is None:
            return audit.GENESIS_HASH
        if head.get("kind") == audit.KIND_SEAL:
            return str(head["hash"])
        seal = audit.seal_record(
            chain_day=before, seq=int(head["seq"]) + 1, prev_hash=str(head["hash"]), at=iso_utc(now)
        )
        return str(seal["hash"]) if self._put_if_free(seal) else None

    def _put_if_free(self, record: Mapping[str, Any]) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(record),
                ConditionExpression="attribute_not_exists(seq)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _head(self, day: str) -> dict[str, Any] | None:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="chain_day = :d",
            ExpressionAttributeValues={":d": to_attribute(day)},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        return from_item(items[0]) if items else None

    # --- verification reads ----------------------------------------------------------------------

    def day(self, chain_day: str) -> list[dict[str, Any]]:
        """Every record of `chain_day`, in chain order."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "chain_day = :d",
            "ExpressionAttributeValues": {":d": to_attribute(chain_day)},
            "ConsistentRead": True,
        }
        return list(query_items(self._client, request))

    def last_hash_before(self, chain_day: str) -> str:
        """What `chain_day`'s first record must link to."""
        head = self._head(audit.previous_day(chain_day))
        return str(head["hash"]) if head else audit.GENESIS_HASH

    # --- GET /audit ------------------------------------------------------------------------------

    def events(
        self, query: AuditQuery, limit: int, cursor: Mapping[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Up to `limit` event records of `query`, newest first, and the cursor of the next page."""
        if query.user is not None or query.lea is not None:
            return self._indexed(query, limit, cursor)
        return self._by_days(query, limit, cursor)

    def _filter(self, query: AuditQuery, names: dict[str, str], values: dict[str, Any]) -> str:
        clauses = ["#kind = :event"]
        names["#kind"] = "kind"
        values[":event"] = to_attribute(audit.KIND_EVENT)
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
        return " AND ".join(clauses)

    def _indexed(
        self, query: AuditQuery, limit: int, cursor: Mapping[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        key_name, key_value, index = (
            ("user", query.user, "by-user") if query.user is not None else ("lea", query.lea, "by-lea")
        )
        start_key: dict[str, Any] | None = None
        if cursor is not None:
            if set(cursor) != {key_name, "at", "chain_day", "seq"} or cursor.get(key_name) != key_value:
                raise InvalidCursor("the page token does not belong to this query")
            start_key = _cursor_key(cursor)
        names = {"#pk": key_name, "#at": "at"}
        values = {
            ":pk": to_attribute(key_value),
            ":start": to_attribute(query.start),
            ":end": to_attribute(query.end),
        }
        filter_expression = self._filter(query, names, values)
        items = query_items(
            self._client,
            {
                "TableName": self._table,
                "IndexName": index,
                "KeyConditionExpression": "#pk = :pk AND #at BETWEEN :start AND :end",
                "FilterExpression": filter_expression,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
                "ScanIndexForward": False,
                "Limit": limit + 1,
            },
            start_key,
        )
        return _take(items, limit, (key_name, "at", "chain_day", "seq"))

    def _by_days(
        self, query: AuditQuery, limit: int, cursor: Mapping[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        days = audit.days_between(query.start[:10], query.end[:10])
        days.reverse()
        start_key: dict[str, Any] | None = None
        if cursor is not None:
            if set(cursor) != {"chain_day", "seq"} or cursor.get("chain_day") not in days:
                raise InvalidCursor("the page token does not belong to this query")
            start_key = _cursor_key(cursor)
            days = days[days.index(str(cursor["chain_day"])) :]

        def items() -> Iterator[dict[str, Any]]:
            first_key = start_key
            for day in days:
                names = {"#at": "at"}
                values = {
                    ":d": to_attribute(day),
                    ":start": to_attribute(query.start),
                    ":end": to_attribute(query.end),
                }
                filter_expression = self._filter(query, names, values) + " AND #at BETWEEN :start AND :end"
                yield from query_items(
                    self._client,
                    {
                        "TableName": self._table,
                        "KeyConditionExpression": "chain_day = :d",
                        "FilterExpression": filter_expression,
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                        "ScanIndexForward": False,
                        "Limit": limit + 1,
                    },
                    first_key,
                )
                first_key = None

        return _take(items(), limit, ("chain_day", "seq"))


def _take(
    items: Iterator[dict[str, Any]], limit: int, key_fields: tuple[str, ...]
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The first `limit` items and, when more follow, the cursor (key) of the last one returned."""
    found: list[dict[str, Any]] = []
    for item in items:
        if len(found) == limit:
            last = found[-1]
            return found, {k: last[k] for k in key_fields}
        found.append(item)
    return found, None


def _cursor_key(cursor: Mapping[str, Any]) -> dict[str, Any]:
    key = dict(cursor)
    seq = key.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq < MAX_SEQ:
        raise InvalidCursor("the page token does not belong to this query")
    for name, value in key.items():
        if name != "seq" and (not isinstance(value, str) or not value or len(value) > 128):
            raise InvalidCursor("the page token does not belong to this query")
    return key


def verify_days(trail: AuditTrail, days: list[str]) -> audit.VerifyReport:
    """Verifies the chain of `days` (consecutive, ascending). The first record read must link to what
    precedes the first day that has records, not `days[0]`: empty days at the start of the range
    break the link between days (the next day's first record links to GENESIS_HASH)."""
    records: list[dict[str, Any]] = []
    first_day: str | None = None
    for day in days:
        found = trail.day(day)
        if found and first_day is None:
            first_day = day
        records += found
    genesis = trail.last_hash_before(first_day) if first_day is not None else audit.GENESIS_HASH
    return audit.verify_chain(records, genesis_prev_hash=genesis)
