"""The voi table's bulk-list side (docs/data-model.md): each source's claim and active generation
in the state item, generations' bucket and filter items, and import records.

Atomic replacement: a generation is written beside the active one under its own keys, so matching
never sees it until `activate` flips the source's pointer, in one transaction with the import
record, and only if the import still holds the source's claim (the later import wins a race).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from nas.adapters import StoreConflict, store_call
from nas.adapters.dynamo import batch_delete, batch_get, batch_put, from_item, to_attribute, to_item
from nas.adapters.voi_keys import (
    STATE_KEY,
    active_attribute,
    bucket_key,
    claim_attribute,
    decode_state,
    epoch,
    raw_bytes,
    segment_key,
)
from nas.domain.voi_imports import ImportPlan, ImportRecord, ImportStatus
from nas.domain.voi_lists import Claim, ListGeneration, ListSource, ListState
from nas.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

IMPORT_RECORD = "IMPORT"


def import_key(import_id: str) -> dict[str, str]:
    return {"vrm": f"#IMPORT#{import_id}", "record": IMPORT_RECORD}


class Superseded(StoreConflict):
    """A later import of the same source holds the claim; `by` names it."""

    def __init__(self, by: str) -> None:
        self.by = by
        super().__init__(f"superseded by import {by}")


class ImportStateChanged(StoreConflict):
    """The import is not in the status the change expected (already started, finished or failed)."""


class ListStore(Protocol):
    """What imports need of the voi table (the DynamoDB adapter below; tests use it on moto)."""

    def state(self) -> ListState: ...

    def claim(self, source: ListSource, claim: Claim) -> ListGeneration | None: ...

    def claim_holder(self, source: ListSource) -> Claim | None: ...

    def release(self, source: ListSource, import_id: str) -> None: ...

    def write_items(self, items: Iterable[Mapping[str, Any]]) -> None: ...

    def buckets(self, import_id: str, buckets: Sequence[int]) -> dict[int, bytes]: ...

    def activate(
        self, generation: ListGeneration, previous: ListGeneration | None, record: ImportRecord
    ) -> None: ...

    def deactivate(self, generation: ListGeneration) -> bool: ...

    def delete_generation(self, generation: ListGeneration) -> int: ...

    def create_import(self, record: ImportRecord, *, expires_at: datetime) -> None: ...

    def import_record(self, import_id: str) -> ImportRecord | None: ...

    def import_plan(self, import_id: str) -> ImportPlan | None: ...

    def start_import(self, record: ImportRecord, plan: ImportPlan) -> None: ...

    def progress(self, import_id: str, chunk: int, lines: int) -> None: ...

    def end_import(self, record: ImportRecord) -> None: ...


class DynamoListStore:
    def __init__(
        self, client: DynamoDBClient, table: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self._table = table
        self._sleep = sleep

    def state(self) -> ListState:
        with store_call("voi state read"):
            response = self._client.get_item(
                TableName=self._table, Key=to_item(STATE_KEY), ConsistentRead=True
            )
        return decode_state(from_item(response["Item"]) if "Item" in response else None)[0]

    def claim(self, source: ListSource, claim: Claim) -> ListGeneration | None:
        """Takes the source's claim for `claim` unless a later import holds it (Superseded); returns
        the source's active generation at that moment, the one this import would replace."""
        with store_call("voi list claim"):
            try:
                response = self._client.update_item(
                    TableName=self._table,
                    Key=to_item(STATE_KEY),
                    UpdateExpression="SET #claim = :claim",
                    ConditionExpression="attribute_not_exists(#claim) OR #claim.#order < :order",
                    ExpressionAttributeNames={"#claim": claim_attribute(source), "#order": "order"},
                    ExpressionAttributeValues=to_item(
                        {
                            ":claim": {"import_id": claim.import_id, "order": claim.order},
                            ":order": claim.order,
                        }
                    ),
                    ReturnValues="ALL_NEW",
                )
            except self._client.exceptions.ConditionalCheckFailedException:
                holder = self.claim_holder(source)
                raise Superseded(holder.import_id if holder else "unknown") from None
        return decode_state(from_item(response["Attributes"]))[0].active.get(source)

    def claim_holder(self, source: ListSource) -> Claim | None:
        with store_call("voi state read"):
            response = self._client.get_item(
                TableName=self._table, Key=to_item(STATE_KEY), ConsistentRead=True
            )
        return decode_state(from_item(response["Item"]) if "Item" in response else None)[0].claims.get(source)

    def release(self, source: ListSource, import_id: str) -> None:
        """Gives up a failed import's claim, so an import requested before it may still load."""
        # A failed condition: a later import holds the claim, and keeps it.
        with (
            store_call("voi list release"),
            contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException),
        ):
            self._client.update_item(
                TableName=self._table,
                Key=to_item(STATE_KEY),
                UpdateExpression="REMOVE #claim",
                ConditionExpression="#claim.import_id = :me",
                ExpressionAttributeNames={"#claim": claim_attribute(source)},
                ExpressionAttributeValues=to_item({":me": import_id}),
            )

    def activate(
        self, generation: ListGeneration, previous: ListGeneration | None, record: ImportRecord
    ) -> None:
        """The flip: the source's pointer moves to `generation` and the import record says so, in
        one transaction, only while the import holds the claim and `previous` is still active."""
        active = active_attribute(generation.source)
        condition = "#claim.import_id = :me AND " + (
            "#active = :previous" if previous is not None else "attribute_not_exists(#active)"
        )
        values: dict[str, Any] = {":me": generation.import_id, ":generation": generation.model_dump_json()}
        if previous is not None:
            values[":previous"] = previous.model_dump_json()
        operations: list[Any] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": to_item(STATE_KEY),
                    "UpdateExpression": "SET #active = :generation",
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {
                        "#claim": claim_attribute(generation.source),
                        "#active": active,
                    },
                    "ExpressionAttributeValues": to_item(values),
                }
            },
            self._record_update(record, expected=ImportStatus.LOADING),
        ]
        with store_call("voi list activate"):
            try:
                self._client.transact_write_items(TransactItems=operations)
            except self._client.exceptions.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons", [])
                if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                    holder = self.claim_holder(generation.source)
                    raise Superseded(holder.import_id if holder else "none") from None
                raise ImportStateChanged(f"import {record.import_id} changed while activating") from None

    def deactivate(self, generation: ListGeneration) -> bool:
        """Removes an expired generation's pointer (R-VOI-56), unless another replaced it."""
        with store_call("voi list deactivate"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=to_item(STATE_KEY),
                    UpdateExpression="REMOVE #active",
                    ConditionExpression="#active = :generation",
                    ExpressionAttributeNames={"#active": active_attribute(generation.source)},
                    ExpressionAttributeValues=to_item({":generation": generation.model_dump_json()}),
                )
            except self._client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def write_items(self, items: Iterable[Mapping[str, Any]]) -> None:
        with store_call("voi list write"):
            batch_put(self._client, self._table, items, sleep=self._sleep)

    def buckets(self, import_id: str, buckets: Sequence[int]) -> dict[int, bytes]:
        """The packed rows of these buckets of a generation (absent buckets are empty)."""
        keys = [bucket_key(import_id, b) for b in buckets]
        with store_call("voi list read"):
            items = batch_get(self._client, self._table, keys, consistent=True, sleep=self._sleep)
        by_key = {item["vrm"]: raw_bytes(item["rows"]) for item in items}
        return {b: by_key[k["vrm"]] for b, k in zip(buckets, keys, strict=True) if k["vrm"] in by_key}

    def delete_generation(self, generation: ListGeneration) -> int:
        keys = [bucket_key(generation.import_id, b) for b in range(generation.buckets)]
        keys += [segment_key(generation.import_id, g) for g in range(generation.groups)]
        with store_call("voi list delete"):
            return batch_delete(self._client, self._table, keys, sleep=self._sleep)

    def create_import(self, record: ImportRecord, *, expires_at: datetime) -> None:
        item: dict[str, Any] = {
            **import_key(record.import_id),
            "status": record.status.value,
            "doc": record.model_dump_json(),
            "progress": {},
            "expires_at": epoch(expires_at),
        }
        with store_call("voi import create"):
            self._client.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(#record)",
                ExpressionAttributeNames={"#record": "record"},
            )

    def _import_item(self, import_id: str) -> dict[str, Any] | None:
        with store_call("voi import read"):
            response = self._client.get_item(
                TableName=self._table, Key=to_item(import_key(import_id)), ConsistentRead=True
            )
        return from_item(response["Item"]) if "Item" in response else None

    def import_record(self, import_id: str) -> ImportRecord | None:
        item = self._import_item(import_id)
        if item is None:
            return None
        try:
            record = ImportRecord.model_validate_json(item["doc"])
        except (ValidationError, KeyError) as exc:
            logger.error("invalid import record", extra={"import_id": import_id, "error": str(exc)})
            return None
        if record.status is ImportStatus.LOADING:
            loaded = sum(int(v) for v in (item.get("progress") or {}).values())
            record = record.model_copy(update={"rows_loaded": loaded})
        return record

    def import_plan(self, import_id: str) -> ImportPlan | None:
        item = self._import_item(import_id)
        if item is None or "plan" not in item:
            return None
        return ImportPlan.model_validate_json(item["plan"])

    def start_import(self, record: ImportRecord, plan: ImportPlan) -> None:
        """awaiting-upload → loading, with the plan every load step reads."""
        update = self._record_update(record, expected=ImportStatus.AWAITING_UPLOAD)["Update"]
        update["UpdateExpression"] += ", #plan = :plan"
        update["ExpressionAttributeNames"]["#plan"] = "plan"
        update["ExpressionAttributeValues"][":plan"] = to_attribute(plan.model_dump_json())
        with store_call("voi import start"):
            try:
                self._client.update_item(**update)
            except self._client.exceptions.ConditionalCheckFailedException:
                raise ImportStateChanged(f"import {record.import_id} is not awaiting its upload") from None

    def progress(self, import_id: str, chunk: int, lines: int) -> None:
        """Lines read so far by one load task (set, not added: a retried task does not count twice)."""
        with store_call("voi import progress"):
            self._client.update_item(
                TableName=self._table,
                Key=to_item(import_key(import_id)),
                UpdateExpression="SET progress.#chunk = :lines",
                ExpressionAttributeNames={"#chunk": f"c{chunk}"},
                ExpressionAttributeValues=to_item({":lines": lines}),
            )

    def end_import(self, record: ImportRecord) -> None:
        """A loading (or never uploaded) import's final, failed record."""
        update = self._record_update(record, expected=None)["Update"]
        update["ConditionExpression"] = "#status IN (:loading, :awaiting)"
        update["ExpressionAttributeValues"].update(
            to_item({":loading": ImportStatus.LOADING.value, ":awaiting": ImportStatus.AWAITING_UPLOAD.value})
        )
        with store_call("voi import end"):
            try:
                self._client.update_item(**update)
            except self._client.exceptions.ConditionalCheckFailedException:
                raise ImportStateChanged(f"import {record.import_id} has already ended") from None

    def _record_update(self, record: ImportRecord, *, expected: ImportStatus | None) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item(import_key(record.import_id)),
            "UpdateExpression": "SET #status = :status, doc = :doc",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_item(
                {":status": record.status.value, ":doc": record.model_dump_json()}
            ),
        }
        if expected is not None:
            update["ConditionExpression"] = "#status = :expected"
            update["ExpressionAttributeValues"][":expected"] = to_attribute(expected.value)
        return {"Update": update}
