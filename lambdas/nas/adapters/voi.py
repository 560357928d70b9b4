"""Single VOI entries in the voi table (R-VOI, R-VOI-DEL, R-VOI-56; docs/data-model.md): entry
items, each VRM's match item and the singles directory. Every change of an entry is one transaction
over the entry item, the VRM's match item and, when the VRM joins or leaves the directory, its
directory shard (and the shard's version in the state item), so matching never sees half a change.
The match path's reads are `nas.adapters.voi_match`; `DynamoVoiStore` serves them too, so the match
consumer has one adapter."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from nas.adapters import StoreConflict, store_call
from nas.adapters.dynamo import from_item, query_items, to_attribute, to_item
from nas.adapters.voi_keys import (
    ENTRY_PREFIX,
    STATE_KEY,
    STATE_TTL_S,
    directory_key,
    entry_key,
    epoch,
    match_key,
    shard_of,
    singles_attribute,
)
from nas.adapters.voi_match import DynamoVoiItems, MatchIndex, VoiLookup, VrmListing
from nas.domain import policy
from nas.domain.models import VoiEntry
from nas.domain.timefmt import iso_utc
from nas.domain.voi import Revision, VoiRecord
from nas.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_WRITE_ATTEMPTS = 5


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


__all__ = ["DynamoVoiStore", "VoiLookup", "VrmListing"]
