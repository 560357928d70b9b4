"""The retro-hunts table and queue (issue 10): a hunt is written `queued` by the API and put on the
queue; the retro-hunt function records its progress on the same item (the progress attributes only,
never the request), and the API reads an entry's latest hunt back for GET /voi/{voi_id}."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError
from pydantic import ValidationError

from nas import catalogue
from nas.adapters import StoreError, store_call
from nas.adapters.dynamo import from_item, query_items, to_attribute, to_item
from nas.domain.retro_hunt import HuntStatus, RetroHunt
from nas.domain.timefmt import iso_utc
from nas.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_INSTANTS = ("requested_at", "window_from", "window_to", "finished_at")
_UNFINISHED = (HuntStatus.QUEUED.value, HuntStatus.RUNNING.value)


class HuntStore(Protocol):
    def create(self, hunt: RetroHunt) -> None: ...

    def get(self, voi_id: str, hunt_id: str) -> RetroHunt | None: ...

    def latest(self, voi_id: str) -> RetroHunt | None: ...

    def progress(self, hunt: RetroHunt) -> RetroHunt | None:
        """Records `hunt`'s progress attributes while the stored hunt is unfinished; returns the
        stored hunt as it then is (a finished one is never changed again), None once it is gone."""
        ...

    def forget(self, voi_id: str) -> int:
        """Deletes every hunt of the entry (R-VOI-DEL); returns how many there were."""
        ...


@dataclass(frozen=True, slots=True)
class HuntMessage:
    voi_id: str
    hunt_id: str

    def body(self) -> str:
        return json.dumps({"voi_id": self.voi_id, "hunt_id": self.hunt_id}, separators=(",", ":"))

    @classmethod
    def parse(cls, body: str) -> HuntMessage:
        """ValueError for anything `body` did not make."""
        try:
            value = json.loads(body)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a retro-hunt message: {exc}") from None
        if not isinstance(value, dict) or set(value) != {"voi_id", "hunt_id"}:
            raise ValueError("not a retro-hunt message")
        if not all(isinstance(value[k], str) and 0 < len(value[k]) <= 128 for k in value):
            raise ValueError("not a retro-hunt message")
        return cls(value["voi_id"], value["hunt_id"])


class HuntQueue(Protocol):
    def send(self, message: HuntMessage) -> None: ...


def hunt_item(hunt: RetroHunt) -> dict[str, Any]:
    item: dict[str, Any] = hunt.model_dump(mode="json")
    for name in _INSTANTS:
        value = getattr(hunt, name)
        item[name] = iso_utc(value) if value is not None else None
    item["expires_at"] = int(hunt.expires_at.timestamp())
    return item


def hunt_of_item(item: Mapping[str, Any]) -> RetroHunt:
    values = dict(item)
    values["expires_at"] = datetime.fromtimestamp(int(values["expires_at"]), tz=UTC)
    return RetroHunt.model_validate(values)


class InMemoryHuntStore:
    def __init__(self) -> None:
        self.hunts: dict[tuple[str, str], RetroHunt] = {}

    def create(self, hunt: RetroHunt) -> None:
        self.hunts[(hunt.voi_id, hunt.hunt_id)] = hunt

    def get(self, voi_id: str, hunt_id: str) -> RetroHunt | None:
        return self.hunts.get((voi_id, hunt_id))

    def latest(self, voi_id: str) -> RetroHunt | None:
        mine = sorted(h for (v, h) in self.hunts if v == voi_id)
        return self.hunts[(voi_id, mine[-1])] if mine else None

    def progress(self, hunt: RetroHunt) -> RetroHunt | None:
        current = self.hunts.get((hunt.voi_id, hunt.hunt_id))
        if current is None or current.finished:
            return current
        self.hunts[(hunt.voi_id, hunt.hunt_id)] = hunt
        return hunt

    def forget(self, voi_id: str) -> int:
        mine = [key for key in self.hunts if key[0] == voi_id]
        for key in mine:
            del self.hunts[key]
        return len(mine)


class DynamoHuntStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def create(self, hunt: RetroHunt) -> None:
        with store_call("retro-hunts PutItem"):
            self._client.put_item(
                TableName=self._table,
                Item=to_item(hunt_item(hunt)),
                ConditionExpression="attribute_not_exists(hunt_id)",
            )

    def get(self, voi_id: str, hunt_id: str) -> RetroHunt | None:
        with store_call("retro-hunts GetItem"):
            item = self._client.get_item(
                TableName=self._table,
                Key=to_item({"voi_id": voi_id, "hunt_id": hunt_id}),
                ConsistentRead=True,
            ).get("Item")
        return self._hunt(item) if item else None

    def latest(self, voi_id: str) -> RetroHunt | None:
        with store_call("retro-hunts Query"):
            items = self._client.query(
                TableName=self._table,
                KeyConditionExpression="voi_id = :v",
                ExpressionAttributeValues={":v": to_attribute(voi_id)},
                ScanIndexForward=False,
                Limit=1,
            ).get("Items", [])
        return self._hunt(items[0]) if items else None

    def progress(self, hunt: RetroHunt) -> RetroHunt | None:
        stored = hunt_item(hunt)
        attributes = catalogue.RETRO_HUNT_PROGRESS_ATTRIBUTES
        present = {n: stored[n] for n in attributes if stored.get(n) is not None}
        absent = [n for n in attributes if stored.get(n) is None]
        names = {f"#{n}": n for n in attributes}
        expression = "SET " + ", ".join(f"#{n} = :{n}" for n in present)
        if absent:
            expression += " REMOVE " + ", ".join(f"#{n}" for n in absent)
        values = {f":{n}": to_attribute(v) for n, v in present.items()}
        values.update({":queued": to_attribute(_UNFINISHED[0]), ":running": to_attribute(_UNFINISHED[1])})
        with store_call("retro-hunts UpdateItem progress"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=to_item({"voi_id": hunt.voi_id, "hunt_id": hunt.hunt_id}),
                    UpdateExpression=expression,
                    ConditionExpression="attribute_exists(hunt_id) AND #status IN (:queued, :running)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                return self.get(hunt.voi_id, hunt.hunt_id)
        return hunt

    def forget(self, voi_id: str) -> int:
        with store_call("retro-hunts forget"):
            keys = [
                {"voi_id": voi_id, "hunt_id": item["hunt_id"]}
                for item in query_items(
                    self._client,
                    {
                        "TableName": self._table,
                        "KeyConditionExpression": "voi_id = :v",
                        "ExpressionAttributeValues": {":v": to_attribute(voi_id)},
                        "ProjectionExpression": "hunt_id",
                        "ConsistentRead": True,
                    },
                )
            ]
            for key in keys:
                self._client.delete_item(TableName=self._table, Key=to_item(key))
        return len(keys)

    @staticmethod
    def _hunt(item: Mapping[str, Any]) -> RetroHunt:
        try:
            return hunt_of_item(from_item(item))
        except (ValidationError, KeyError, ValueError) as exc:
            logger.error("stored retro-hunt does not validate", extra={"error": str(exc)})
            raise StoreError("a stored retro-hunt does not validate") from None


class InMemoryHuntQueue:
    def __init__(self) -> None:
        self.messages: list[HuntMessage] = []

    def send(self, message: HuntMessage) -> None:
        self.messages.append(message)


class SqsHuntQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, message: HuntMessage) -> None:
        with store_call("sqs SendMessage retro-hunts"):
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=message.body())
