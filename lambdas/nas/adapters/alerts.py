"""The alerts table: each alert written once (R-DUP), then marked published once its event is out."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from nas.adapters import StoreError
from nas.adapters.dynamo import from_item, query_items, to_attribute, to_item
from nas.domain.models import Alert
from nas.domain.timefmt import iso_utc, utc_date

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class AlertWrite(StrEnum):
    NEW = "new"
    """First time this alert was seen: publish it."""
    UNPUBLISHED = "unpublished"
    """Written by an earlier attempt whose event never went out: publish it now."""
    DUPLICATE = "duplicate"
    """Already written and published: nothing to do (a redelivered read)."""


class AlertStore(Protocol):
    def put_new(self, alert: Alert) -> AlertWrite: ...

    def mark_published(self, alert_ids: Collection[str]) -> None: ...


def alert_item(alert: Alert) -> dict[str, Any]:
    """The stored form: the alert's fields plus the index keys of docs/data-model.md."""
    item: dict[str, Any] = alert.model_dump(mode="json")
    item.update(
        captured_at=iso_utc(alert.captured_at),
        raised_at=iso_utc(alert.raised_at),
        raised_day=utc_date(alert.raised_at),
        published=False,
    )
    return item


class InMemoryAlertStore:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def put_new(self, alert: Alert) -> AlertWrite:
        existing = self.items.get(alert.alert_id)
        if existing is None:
            self.items[alert.alert_id] = alert_item(alert)
            return AlertWrite.NEW
        return AlertWrite.DUPLICATE if existing["published"] else AlertWrite.UNPUBLISHED

    def mark_published(self, alert_ids: Collection[str]) -> None:
        for alert_id in alert_ids:
            self.items[alert_id]["published"] = True


class DynamoAlertStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def put_new(self, alert: Alert) -> AlertWrite:
        try:
            return self._put_new(alert)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"alert {alert.alert_id} not stored: {exc}") from exc

    def _put_new(self, alert: Alert) -> AlertWrite:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(alert_item(alert)),
                ConditionExpression="attribute_not_exists(alert_id)",
            )
            return AlertWrite.NEW
        except self._client.exceptions.ConditionalCheckFailedException:
            stored = self._client.get_item(
                TableName=self._table,
                Key=to_item({"alert_id": alert.alert_id}),
                ProjectionExpression="published",
                ConsistentRead=True,
            ).get("Item")
            published = bool(stored and from_item(stored).get("published"))
            return AlertWrite.DUPLICATE if published else AlertWrite.UNPUBLISHED

    def mark_published(self, alert_ids: Collection[str]) -> None:
        for alert_id in alert_ids:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"alert_id": alert_id}),
                UpdateExpression="SET published = :yes",
                ExpressionAttributeValues=to_item({":yes": True}),
            )


# --- API reads and outcomes (R-ALERT listing, R-HIT) ----------------------------------------------

BY_READ_LEA = "by-read-lea"
BY_OWNER_LEA = "by-owner-lea"
BY_RAISED_DAY = "by-raised-day"
_INDEX_KEYS = {BY_READ_LEA: "lea", BY_OWNER_LEA: "owner_lea", BY_RAISED_DAY: "raised_day"}


class OutcomeConflict(Exception):
    """Another outcome was recorded between the read and the conditional update."""


class AlertReader(Protocol):
    def get(self, alert_id: str) -> dict[str, Any] | None: ...

    def newest(self, index: str, key: str, since: str, until: str) -> Iterator[dict[str, Any]]: ...

    def record_outcome(
        self,
        alert_id: str,
        expected_version: int,
        fields: Mapping[str, Any],
        history: Mapping[str, Any] | None,
    ) -> None: ...


class DynamoAlertReader:
    """Reads alerts for the API and records outcomes; never touches `published` or the alert fields."""

    def __init__(self, client: DynamoDBClient, table: str, page_size: int = 101) -> None:
        self._client = client
        self._table = table
        self._page_size = page_size

    def get(self, alert_id: str) -> dict[str, Any] | None:
        item = self._client.get_item(
            TableName=self._table, Key=to_item({"alert_id": alert_id}), ConsistentRead=True
        ).get("Item")
        return from_item(item) if item else None

    def newest(self, index: str, key: str, since: str, until: str) -> Iterator[dict[str, Any]]:
        """Items of one index partition with `since <= raised_at <= until`, newest first, in pages."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#pk = :pk AND raised_at BETWEEN :since AND :until",
            "ExpressionAttributeNames": {"#pk": _INDEX_KEYS[index]},
            "ExpressionAttributeValues": to_item({":pk": key, ":since": since, ":until": until}),
            "ScanIndexForward": False,
            "Limit": self._page_size,
        }
        yield from query_items(self._client, request)

    def record_outcome(
        self,
        alert_id: str,
        expected_version: int,
        fields: Mapping[str, Any],
        history: Mapping[str, Any] | None,
    ) -> None:
        """Sets the outcome `fields` if the alert's `outcome_version` is still `expected_version`
        (absent counts as 0) and appends `history` to `outcome_history`; raises OutcomeConflict
        otherwise, so two concurrent posts cannot lose an entry."""
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values: dict[str, Any] = {f":f{i}": value for i, value in enumerate(fields.values())}
        sets = [f"#f{i} = :f{i}" for i in range(len(fields))]
        sets.append("outcome_version = :next")
        values.update({":next": expected_version + 1, ":expected": expected_version})
        if history is not None:
            sets.append("outcome_history = list_append(if_not_exists(outcome_history, :empty), :entry)")
            values.update({":empty": [], ":entry": [dict(history)]})
        condition = "attribute_exists(alert_id) AND " + (
            "attribute_not_exists(outcome_version)"
            if expected_version == 0
            else "outcome_version = :expected"
        )
        if expected_version == 0:
            del values[":expected"]
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"alert_id": alert_id}),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={k: to_attribute(v) for k, v in values.items()},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            raise OutcomeConflict(alert_id) from None
