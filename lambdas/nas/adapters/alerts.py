"""The alerts table: each alert written once (R-DUP), then marked published once its event is out."""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from nas.adapters import StoreError
from nas.adapters.dynamo import from_item, to_item
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
