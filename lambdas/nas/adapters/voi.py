"""The voi table (docs/data-model.md): entry items, one match item per VRM for batched lookups, and
white-list items (R-WHITE)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from nas.adapters import StoreConflict
from nas.adapters.dynamo import BATCH_GET_LIMIT, batch_get, batch_put, to_attribute, to_item
from nas.domain.models import VoiEntry
from nas.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MATCH_RECORD = "MATCH"
WHITE_LIST_RECORD = "WHITELIST"
ENTRY_PREFIX = "ENTRY#"
MAX_WRITE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class VrmListing:
    """What the match path needs to know about one VRM, from its one match item."""

    entries: tuple[VoiEntry, ...]
    white_listed: bool = False


class VoiLookup(Protocol):
    def listings(self, vrms: Collection[str]) -> dict[str, VrmListing]:
        """The listing of each VRM that has entries, live or not (the caller checks expiry at its
        `now`); VRMs without entries are absent."""
        ...


class ConcurrentUpdateError(StoreConflict):
    """The match item kept changing under a write; the caller may retry later."""


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _valid_entries(vrm: str, stored: dict[str, str]) -> tuple[VoiEntry, ...]:
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
    return tuple(entries)


class InMemoryVoiStore:
    """Same behaviour as the table, in memory: for tests, benchmarks and tools."""

    def __init__(self) -> None:
        self.by_vrm: dict[str, dict[str, VoiEntry]] = {}
        self.white_list: set[str] = set()
        self.lookup_calls = 0

    def put(self, entry: VoiEntry) -> None:
        self.by_vrm.setdefault(entry.vrm, {})[entry.voi_id] = entry

    def add_to_white_list(self, vrms: Iterable[str]) -> None:
        self.white_list.update(vrms)

    def listings(self, vrms: Collection[str]) -> dict[str, VrmListing]:
        # One call per 100 VRMs, as BatchGetItem makes, so benchmarks can count calls.
        self.lookup_calls += -(-len(vrms) // BATCH_GET_LIMIT)
        return {
            v: VrmListing(tuple(self.by_vrm[v].values()), v in self.white_list)
            for v in vrms
            if v in self.by_vrm
        }


class DynamoVoiStore:
    def __init__(
        self, client: DynamoDBClient, table: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self._table = table
        self._sleep = sleep

    # --- reads (match path) ----------------------------------------------------------------------

    def listings(self, vrms: Collection[str]) -> dict[str, VrmListing]:
        items = batch_get(
            self._client,
            self._table,
            [{"vrm": v, "record": MATCH_RECORD} for v in vrms],
            projection="vrm, entries, white_listed",
            sleep=self._sleep,
        )
        return {
            item["vrm"]: VrmListing(
                entries=_valid_entries(item["vrm"], item.get("entries", {})),
                white_listed=bool(item.get("white_listed")),
            )
            for item in items
        }

    # --- writes (VOI management, imports, tools) --------------------------------------------------

    def put(self, entry: VoiEntry, *, now: datetime) -> None:
        """Writes the entry item and its copy in the VRM's match item in one transaction. Entries of
        that VRM already expired at `now` are dropped from the match item on the way, and the VRM's
        white-list flag is copied in, so matching needs the match item alone."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = {
                item["record"]: item
                for item in batch_get(
                    self._client,
                    self._table,
                    [
                        {"vrm": entry.vrm, "record": MATCH_RECORD},
                        {"vrm": entry.vrm, "record": WHITE_LIST_RECORD},
                    ],
                    consistent=True,
                    sleep=self._sleep,
                )
            }
            existing = current.get(MATCH_RECORD, {})
            entries: dict[str, str] = {
                voi_id: raw
                for voi_id, raw in existing.get("entries", {}).items()
                if voi_id != entry.voi_id and VoiEntry.model_validate_json(raw).is_live(now)
            }
            entries[entry.voi_id] = entry.model_dump_json()
            expires = max(VoiEntry.model_validate_json(raw).expires_at for raw in entries.values())
            version = int(existing.get("version", 0))
            match_item = {
                "vrm": entry.vrm,
                "record": MATCH_RECORD,
                "entries": entries,
                "expires_at": _epoch(expires),
                "white_listed": WHITE_LIST_RECORD in current,
                "version": version + 1,
            }
            try:
                self._client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": self._table, "Item": to_item(self._entry_item(entry))}},
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": to_item(match_item),
                                "ConditionExpression": "attribute_not_exists(version) OR version = :seen",
                                "ExpressionAttributeValues": {":seen": to_attribute(version)},
                            }
                        },
                    ]
                )
                return
            except self._client.exceptions.TransactionCanceledException:
                self._sleep(0.05)
        raise ConcurrentUpdateError(
            f"match item of {entry.vrm} kept changing; entry {entry.voi_id} not written"
        )

    def add_to_white_list(self, vrms: Iterable[str]) -> None:
        """R-WHITE: white-list items, and the flag on the match items of VRMs already listed (the
        version bump makes a concurrent entry write re-read the white list)."""
        listed = list(vrms)
        batch_put(
            self._client,
            self._table,
            ({"vrm": v, "record": WHITE_LIST_RECORD} for v in listed),
            sleep=self._sleep,
        )
        for vrm in listed:
            # No match item yet (no entries): a later entry write copies the flag in.
            with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
                self._client.update_item(
                    TableName=self._table,
                    Key=to_item({"vrm": vrm, "record": MATCH_RECORD}),
                    UpdateExpression="SET white_listed = :yes, version = version + :one",
                    ConditionExpression="attribute_exists(vrm)",
                    ExpressionAttributeValues=to_item({":yes": True, ":one": 1}),
                )

    @staticmethod
    def _entry_item(entry: VoiEntry) -> dict[str, Any]:
        item: dict[str, Any] = entry.model_dump(mode="json")
        item.update(record=f"{ENTRY_PREFIX}{entry.voi_id}", expires_at=_epoch(entry.expires_at))
        return item
