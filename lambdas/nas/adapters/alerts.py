"""The alerts table: each alert written once (R-DUP), then marked published once its event is out;
alerts left unpublished are found again by the publish sweeper through a sparse index."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from nas.adapters import StoreError, store_call
from nas.adapters.dynamo import from_item, query_items, to_attribute, to_item
from nas.catalogue import (
    ALERT_KEY_ATTRIBUTE,
    ALERT_OUTCOME_ATTRIBUTES,
    ALERT_PUBLISH_ATTRIBUTES,
    ALERT_PUBLISH_PENDING_INDEX,
    ALERT_SHARDS,
)
from nas.domain.alerts import AlertRecord, OutcomeChange
from nas.domain.models import Alert
from nas.domain.timefmt import iso_utc, utc_date
from nas.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PUBLISHED, PUBLISH_PENDING = ALERT_PUBLISH_ATTRIBUTES
_ALERT_FIELDS = tuple(Alert.model_fields)


class AlertWrite(StrEnum):
    NEW = "new"
    """First time this alert was seen: publish it."""
    UNPUBLISHED = "unpublished"
    """Written by an earlier attempt whose event never went out: publish the stored alert."""
    DUPLICATE = "duplicate"
    """Already written and published: nothing to do (a redelivered read)."""


@dataclass(frozen=True, slots=True)
class AlertPut:
    write: AlertWrite
    alert: Alert
    """What to publish: the alert as given when NEW, as first stored when UNPUBLISHED (its
    `raised_at` is the first attempt's, whatever has changed since)."""


class AlertStore(Protocol):
    def put_new(self, alert: Alert) -> AlertPut: ...

    def mark_published(self, alert_ids: Collection[str]) -> set[str]:
        """Best effort, alert by alert: returns the ids that could not be marked (left for the
        sweeper, which publishes them again; consumers de-duplicate on `alert_id`)."""
        ...


class PendingAlerts(Protocol):
    """The publish sweeper's view: alerts written but not marked published."""

    def pending(self, raised_before: datetime, limit: int) -> list[Alert]:
        """Up to `limit` unpublished alerts raised before `raised_before`, oldest first."""
        ...

    def mark_published(self, alert_ids: Collection[str]) -> set[str]: ...


def alert_shard(alert_id: str) -> int:
    """The fixed shard of an alert (0..ALERT_SHARDS-1) from its id, a uuid: evenly spread."""
    return int(alert_id.replace("-", "")[-8:], 16) % ALERT_SHARDS


def day_shard_key(day: str, shard: int) -> str:
    return f"{day}#{shard:02d}"


def day_shard_keys(day: str) -> list[str]:
    """Every `raised_day_shard` key of one UTC day: a NATIONAL listing reads them all and merges."""
    return [day_shard_key(day, shard) for shard in range(ALERT_SHARDS)]


def pending_key(shard: int) -> str:
    return f"{shard:02d}"


def alert_item(alert: Alert) -> dict[str, Any]:
    """The stored form: the alert's fields plus the index keys of docs/data-model.md. `publish_pending`
    lists the alert in the sparse by-publish-pending index until it is marked published."""
    shard = alert_shard(alert.alert_id)
    item: dict[str, Any] = alert.model_dump(mode="json")
    item.update(
        captured_at=iso_utc(alert.captured_at),
        raised_at=iso_utc(alert.raised_at),
        raised_day_shard=day_shard_key(utc_date(alert.raised_at), shard),
        published=False,
        publish_pending=pending_key(shard),
    )
    return item


def alert_from_item(item: Mapping[str, Any]) -> Alert:
    """The alert of a stored item; raises ValidationError if the item does not hold one."""
    return Alert.model_validate({k: item[k] for k in _ALERT_FIELDS if k in item}, strict=False)


class InMemoryAlertStore:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def put_new(self, alert: Alert) -> AlertPut:
        existing = self.items.get(alert.alert_id)
        if existing is None:
            self.items[alert.alert_id] = alert_item(alert)
            return AlertPut(AlertWrite.NEW, alert)
        if existing[PUBLISHED]:
            return AlertPut(AlertWrite.DUPLICATE, alert_from_item(existing))
        return AlertPut(AlertWrite.UNPUBLISHED, alert_from_item(existing))

    def mark_published(self, alert_ids: Collection[str]) -> set[str]:
        missing = {alert_id for alert_id in alert_ids if alert_id not in self.items}
        for alert_id in set(alert_ids) - missing:
            self.items[alert_id][PUBLISHED] = True
            self.items[alert_id].pop(PUBLISH_PENDING, None)
        return missing

    def pending(self, raised_before: datetime, limit: int) -> list[Alert]:
        cutoff = iso_utc(raised_before)
        items = sorted(
            (i for i in self.items.values() if PUBLISH_PENDING in i and i["raised_at"] < cutoff),
            key=lambda i: str(i["raised_at"]),
        )
        return [alert_from_item(i) for i in items[:limit]]


class DynamoAlertStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def put_new(self, alert: Alert) -> AlertPut:
        """R-DUP: a conditional put on the deterministic id; on a clash the stored item comes back
        with the refusal (no second read), and tells whether its event already went out."""
        with store_call(f"alerts PutItem {alert.alert_id}"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=to_item(alert_item(alert)),
                    ConditionExpression="attribute_not_exists(alert_id)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return AlertPut(AlertWrite.NEW, alert)
            except self._client.exceptions.ConditionalCheckFailedException as clash:
                returned: dict[str, Any] | None = clash.response.get("Item")  # type: ignore[assignment]
                stored = returned or self._stored(alert.alert_id)
        item = from_item(stored)
        try:
            existing = alert_from_item(item)
        except ValidationError as exc:
            logger.error(
                "stored alert does not validate", extra={"alert_id": alert.alert_id, "error": str(exc)}
            )
            raise StoreError(f"stored alert {alert.alert_id} does not validate") from None
        return AlertPut(AlertWrite.DUPLICATE if item.get(PUBLISHED) else AlertWrite.UNPUBLISHED, existing)

    def _stored(self, alert_id: str) -> dict[str, Any]:
        stored: dict[str, Any] = self._client.get_item(
            TableName=self._table, Key=to_item({ALERT_KEY_ATTRIBUTE: alert_id}), ConsistentRead=True
        )["Item"]
        return stored

    def mark_published(self, alert_ids: Collection[str]) -> set[str]:
        not_marked: set[str] = set()
        for alert_id in alert_ids:
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=to_item({ALERT_KEY_ATTRIBUTE: alert_id}),
                    UpdateExpression=f"SET {PUBLISHED} = :yes REMOVE {PUBLISH_PENDING}",
                    # Never a phantom item holding only the flag.
                    ConditionExpression=f"attribute_exists({ALERT_KEY_ATTRIBUTE})",
                    ExpressionAttributeValues=to_item({":yes": True}),
                )
            except (BotoCoreError, ClientError) as exc:
                # The event is out; a failed mark only means the sweeper publishes it again.
                logger.warning(
                    "alert published but not marked", extra={"alert_id": alert_id, "error": str(exc)}
                )
                not_marked.add(alert_id)
        return not_marked

    def pending(self, raised_before: datetime, limit: int) -> list[Alert]:
        """Oldest first across the shards of the sparse by-publish-pending index."""
        found: list[dict[str, Any]] = []
        for shard in range(ALERT_SHARDS):
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": ALERT_PUBLISH_PENDING_INDEX,
                "KeyConditionExpression": "#pk = :pk AND raised_at < :before",
                "ExpressionAttributeNames": {"#pk": PUBLISH_PENDING},
                "ExpressionAttributeValues": to_item(
                    {":pk": pending_key(shard), ":before": iso_utc(raised_before)}
                ),
                "Limit": limit,
            }
            with store_call("alerts Query by-publish-pending"):
                found += islice(query_items(self._client, request), limit)
        found.sort(key=lambda i: str(i["raised_at"]))
        alerts: list[Alert] = []
        for item in found[:limit]:
            try:
                alerts.append(alert_from_item(item))
            except ValidationError as exc:
                logger.error(
                    "pending alert does not validate; left for a person to look at",
                    extra={"alert_id": item.get(ALERT_KEY_ATTRIBUTE), "error": str(exc)},
                )
        return alerts


# --- API reads and outcomes (R-ALERT listing, R-HIT) ----------------------------------------------


class AlertIndex(StrEnum):
    """The alerts table's indexes the API lists from (docs/data-model.md), each named by its key."""

    BY_READ_LEA = "by-read-lea"
    BY_OWNER_LEA = "by-owner-lea"
    BY_RAISED_DAY_SHARD = "by-raised-day-shard"
    BY_VRM = "by-vrm"
    """R-SAR access exports: the alerts raised on a VRM."""

    @property
    def key_attribute(self) -> str:
        return {
            "by-read-lea": "lea",
            "by-owner-lea": "owner_lea",
            "by-raised-day-shard": "raised_day_shard",
            "by-vrm": "vrm",
        }[self.value]


class OutcomeConflict(Exception):
    """Another outcome was recorded between the read and the conditional update."""


class AlertReader(Protocol):
    def get(self, alert_id: str) -> AlertRecord | None: ...

    def newest(self, index: AlertIndex, key: str, since: str, until: str) -> Iterator[AlertRecord]:
        """Records of one index partition with `since <= raised_at <= until`, newest first."""
        ...

    def replace_outcome(self, change: OutcomeChange) -> None:
        """Stores `change.updated`'s outcome state if the stored version is still
        `change.expected_version`; raises OutcomeConflict otherwise."""
        ...


_OUTCOME_FIELDS = frozenset(ALERT_OUTCOME_ATTRIBUTES)


def record_from_item(item: Mapping[str, Any]) -> AlertRecord:
    """The typed record of a stored alert item; raises ValidationError if the item does not hold one.
    An item from an index that leaves the bookkeeping out has the outcome's defaults beside `outcome`."""
    alert = alert_from_item(item)
    return AlertRecord.model_validate(
        {
            "alert": alert,
            "outcome_note": item.get("outcome_note") or "",
            "outcome_by": item.get("outcome_by"),
            "outcome_at": item.get("outcome_at"),
            "outcome_version": int(item.get("outcome_version") or 0),
            "outcome_history": item.get("outcome_history") or (),
            "outcome_history_omitted": int(item.get("outcome_history_omitted") or 0),
        }
    )


def outcome_attributes(record: AlertRecord) -> dict[str, Any]:
    """The stored outcome state of `record`: exactly catalogue.ALERT_OUTCOME_ATTRIBUTES."""
    values = {
        "outcome": record.alert.outcome.value if record.alert.outcome else None,
        "outcome_note": record.outcome_note,
        "outcome_by": record.outcome_by,
        "outcome_at": record.outcome_at,
        "outcome_version": record.outcome_version,
        "outcome_history": [entry.model_dump(mode="json") for entry in record.outcome_history],
        "outcome_history_omitted": record.outcome_history_omitted,
    }
    assert set(values) == _OUTCOME_FIELDS, "outcome attributes must match the catalogue (IAM allows those)"
    return values


class DynamoAlertReader:
    """Reads alerts for the API and records outcomes; writes only the outcome attributes."""

    def __init__(self, client: DynamoDBClient, table: str, page_size: int = 101) -> None:
        self._client = client
        self._table = table
        self._page_size = page_size

    def get(self, alert_id: str) -> AlertRecord | None:
        with store_call("alerts GetItem"):
            item = self._client.get_item(
                TableName=self._table, Key=to_item({ALERT_KEY_ATTRIBUTE: alert_id}), ConsistentRead=True
            ).get("Item")
        if not item:
            return None
        try:
            return record_from_item(from_item(item))
        except ValidationError as exc:
            logger.error("stored alert does not validate", extra={"alert_id": alert_id, "error": str(exc)})
            raise StoreError("a stored alert does not validate") from None

    def newest(self, index: AlertIndex, key: str, since: str, until: str) -> Iterator[AlertRecord]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index.value,
            "KeyConditionExpression": "#pk = :pk AND raised_at BETWEEN :since AND :until",
            "ExpressionAttributeNames": {"#pk": index.key_attribute},
            "ExpressionAttributeValues": to_item({":pk": key, ":since": since, ":until": until}),
            "ScanIndexForward": False,
            "Limit": self._page_size,
        }
        items = query_items(self._client, request)
        while True:
            with store_call(f"alerts Query {index.value}"):
                item = next(items, None)
            if item is None:
                return
            try:
                yield record_from_item(item)
            except ValidationError as exc:
                # One malformed item must not take every operator's listing down with it.
                logger.error(
                    "stored alert does not validate; left out of the listing",
                    extra={"alert_id": item.get(ALERT_KEY_ATTRIBUTE), "error": str(exc)},
                )

    def replace_outcome(self, change: OutcomeChange) -> None:
        attributes = outcome_attributes(change.updated)
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values: dict[str, Any] = {f":a{i}": value for i, value in enumerate(attributes.values())}
        expected = change.expected_version
        condition = f"attribute_exists({ALERT_KEY_ATTRIBUTE}) AND " + (
            "attribute_not_exists(outcome_version)" if expected == 0 else "outcome_version = :expected"
        )
        if expected:
            values[":expected"] = expected
        with store_call("alerts UpdateItem outcome"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=to_item({ALERT_KEY_ATTRIBUTE: change.updated.alert_id}),
                    UpdateExpression="SET " + ", ".join(f"{n} = :{n[1:]}" for n in names),
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={k: to_attribute(v) for k, v in values.items()},
                    ReturnValues="NONE",
                )
            except self._client.exceptions.ConditionalCheckFailedException:
                raise OutcomeConflict(change.updated.alert_id) from None
