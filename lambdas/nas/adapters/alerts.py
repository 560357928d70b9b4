"""The alerts table: each alert written once (R-DUP), then marked published once its event is out."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from nas.adapters import StoreError, store_call
from nas.adapters.dynamo import from_item, query_items, to_attribute, to_item
from nas.catalogue import ALERT_KEY_ATTRIBUTE, ALERT_OUTCOME_ATTRIBUTES
from nas.domain.alerts import AlertRecord, OutcomeChange
from nas.domain.models import Alert
from nas.domain.timefmt import iso_utc, utc_date
from nas.observability import logger

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


class AlertIndex(StrEnum):
    """The alerts table's indexes the API lists from (docs/data-model.md), each named by its key."""

    BY_READ_LEA = "by-read-lea"
    BY_OWNER_LEA = "by-owner-lea"
    BY_RAISED_DAY = "by-raised-day"

    @property
    def key_attribute(self) -> str:
        return {"by-read-lea": "lea", "by-owner-lea": "owner_lea", "by-raised-day": "raised_day"}[self.value]


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


_ALERT_FIELDS = tuple(Alert.model_fields)
_OUTCOME_FIELDS = frozenset(ALERT_OUTCOME_ATTRIBUTES)


def record_from_item(item: Mapping[str, Any]) -> AlertRecord:
    """The typed record of a stored alert item; raises ValidationError if the item does not hold one."""
    alert = Alert.model_validate({k: item[k] for k in _ALERT_FIELDS if k in item}, strict=False)
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
