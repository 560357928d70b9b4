"""The corrections table (R-CORRECT, docs/data-model.md): per read, one item per correction, kept for
good, and a `CURRENT` item copying the latest, written together in one transaction conditional on the
current version (two people correcting one read at once: the second is refused and tries again).
Nothing here deletes, and the table's resource policy refuses deletes to everyone.

The indexes hold `CURRENT` items only (their keys exist on no other item): the corrected reads now
shown as a VRM's look-alike class, those stored under it, and those of a capture day."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from nas import catalogue
from nas.adapters import StoreConflict, store_call
from nas.adapters.dynamo import batch_get, query_items, to_item
from nas.domain.corrections import Correction, CorrectionSource, read_key
from nas.domain.layout import ReadRef
from nas.domain.timefmt import iso_utc, utc_date

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CURRENT = catalogue.CORRECTION_CURRENT


class CorrectionRaced(StoreConflict):
    """Another correction of the read was written between its read and this write."""


class CorrectionStore(Protocol):
    def current(self, keys: Collection[str]) -> dict[str, Correction]:
        """The current correction of each read key that has one."""
        ...

    def history(self, key: str) -> list[Correction]:
        """Every correction of one read, oldest first."""
        ...

    def put(self, correction: Correction) -> None:
        """Stores a correction and makes it the read's current one; CorrectionRaced when the read's
        current version is no longer `correction.version - 1`."""
        ...

    def shown_as(self, vrm_canonical: str) -> list[Correction]:
        """Current corrections of reads now shown as a VRM of this look-alike class."""
        ...

    def stored_as(self, vrm_canonical: str) -> list[Correction]:
        """Current corrections of reads stored as a VRM of this look-alike class."""
        ...

    def captured_on(self, days: Iterable[date]) -> list[Correction]:
        """Current corrections of reads captured on these UTC days."""
        ...


def _entry(version: int) -> str:
    return f"V#{version:06d}"


def correction_item(correction: Correction) -> dict[str, Any]:
    return {
        "read_key": correction.read_key,
        "entry": _entry(correction.version),
        "correction_id": correction.correction_id,
        "read_ref": correction.ref.encode(),
        "captured_at": iso_utc(correction.captured_at),
        "stored_vrm": correction.stored_vrm,
        "previous_vrm": correction.previous_vrm,
        "vrm": correction.vrm,
        "reason": correction.reason,
        "corrected_by": correction.corrected_by,
        "corrected_at": iso_utc(correction.corrected_at),
        "version": correction.version,
        "source": correction.source.value,
        "search_id": correction.search_id,
        "alert_id": correction.alert_id,
        "subject_request_id": correction.subject_request_id,
    }


def current_item(correction: Correction) -> dict[str, Any]:
    """The read's CURRENT item: its latest correction and the indexes' keys."""
    return correction_item(correction) | {
        "entry": CURRENT,
        "shown_canonical": correction.vrm_canonical,
        "read_canonical": correction.stored_canonical,
        "captured_day": utc_date(correction.captured_at),
    }


def correction_of(item: dict[str, Any]) -> Correction:
    return Correction(
        correction_id=item["correction_id"],
        ref=ReadRef.decode(item["read_ref"]),
        captured_at=datetime.fromisoformat(item["captured_at"]),
        stored_vrm=item["stored_vrm"],
        previous_vrm=item["previous_vrm"],
        vrm=item["vrm"],
        reason=item["reason"],
        corrected_by=item["corrected_by"],
        corrected_at=datetime.fromisoformat(item["corrected_at"]),
        version=int(item["version"]),
        source=CorrectionSource(item["source"]),
        search_id=item.get("search_id"),
        alert_id=item.get("alert_id"),
        subject_request_id=item.get("subject_request_id"),
    )


class InMemoryCorrectionStore:
    def __init__(self) -> None:
        self.history_by_read: dict[str, list[Correction]] = {}

    def current(self, keys: Collection[str]) -> dict[str, Correction]:
        return {k: self.history_by_read[k][-1] for k in keys if self.history_by_read.get(k)}

    def history(self, key: str) -> list[Correction]:
        return list(self.history_by_read.get(key, []))

    def put(self, correction: Correction) -> None:
        kept = self.history_by_read.setdefault(correction.read_key, [])
        if len(kept) != correction.version - 1:
            raise CorrectionRaced(f"read {correction.read_key} was corrected meanwhile")
        kept.append(correction)

    def _all_current(self) -> list[Correction]:
        return [h[-1] for h in self.history_by_read.values() if h]

    def shown_as(self, vrm_canonical: str) -> list[Correction]:
        return [c for c in self._all_current() if c.vrm_canonical == vrm_canonical]

    def stored_as(self, vrm_canonical: str) -> list[Correction]:
        return [c for c in self._all_current() if c.stored_canonical == vrm_canonical]

    def captured_on(self, days: Iterable[date]) -> list[Correction]:
        wanted = {d.isoformat() for d in days}
        return [c for c in self._all_current() if utc_date(c.captured_at) in wanted]


class DynamoCorrectionStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def current(self, keys: Collection[str]) -> dict[str, Correction]:
        if not keys:
            return {}
        with store_call("corrections BatchGetItem"):
            items = batch_get(
                self._client, self._table, [{"read_key": k, "entry": CURRENT} for k in keys], consistent=True
            )
        return {item["read_key"]: correction_of(item) for item in items}

    def history(self, key: str) -> list[Correction]:
        request = {
            "TableName": self._table,
            "KeyConditionExpression": "read_key = :k AND begins_with(#e, :v)",
            "ExpressionAttributeNames": {"#e": "entry"},
            "ExpressionAttributeValues": to_item({":k": key, ":v": "V#"}),
            "ConsistentRead": True,
        }
        with store_call("corrections Query history"):
            return [correction_of(item) for item in query_items(self._client, request)]

    def put(self, correction: Correction) -> None:
        if correction.version == 1:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(read_key)"}
        else:
            condition = {
                "ConditionExpression": "version = :previous",
                "ExpressionAttributeValues": to_item({":previous": correction.version - 1}),
            }
        history: dict[str, Any] = {
            "TableName": self._table,
            "Item": to_item(correction_item(correction)),
            "ConditionExpression": "attribute_not_exists(read_key)",
        }
        current: dict[str, Any] = {
            "TableName": self._table,
            "Item": to_item(current_item(correction)),
            **condition,
        }
        with store_call(f"corrections TransactWriteItems {correction.read_key}"):
            try:
                self._client.transact_write_items(TransactItems=[{"Put": history}, {"Put": current}])  # type: ignore[typeddict-item]
            except self._client.exceptions.TransactionCanceledException:
                raise CorrectionRaced(f"read {correction.read_key} was corrected meanwhile") from None

    def _index(self, index: str, attribute: str, value: str) -> list[Correction]:
        request = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": attribute},
            "ExpressionAttributeValues": to_item({":v": value}),
        }
        with store_call(f"corrections Query {index}"):
            return [correction_of(item) for item in query_items(self._client, request)]

    def shown_as(self, vrm_canonical: str) -> list[Correction]:
        return self._index("by-shown-canonical", "shown_canonical", vrm_canonical)

    def stored_as(self, vrm_canonical: str) -> list[Correction]:
        return self._index("by-read-canonical", "read_canonical", vrm_canonical)

    def captured_on(self, days: Iterable[date]) -> list[Correction]:
        found: list[Correction] = []
        for day in days:
            found += self._index("by-captured-day", "captured_day", day.isoformat())
        return found


def keys_of(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """Read keys of (camera id, read id) pairs, each once."""
    return sorted({read_key(camera_id, read_id) for camera_id, read_id in pairs})
