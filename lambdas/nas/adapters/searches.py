"""The searches table: one item per search (who, what, why, where its query is, how it ended), kept
31 days (TTL `expires_at`; TTL deletes lazily, so older items are treated as gone). A user's searches
are listed newest first from the by-user index."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from nas import catalogue
from nas.adapters import store_call
from nas.adapters.dynamo import from_item, to_attribute, to_item
from nas.domain.policy import InvestigationLevel
from nas.domain.search import Purpose, SearchRecord, SearchStatus, SearchType, Why
from nas.domain.timefmt import iso_utc

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Cursor = tuple[str, str]
"""(created_at, search_id) of the last search of a page."""


@dataclass(frozen=True, slots=True)
class SearchListing:
    records: list[SearchRecord]
    next_cursor: Cursor | None


class SearchStore(Protocol):
    def put(self, record: SearchRecord) -> None: ...

    def get(self, search_id: str, *, now: datetime) -> SearchRecord | None: ...

    def complete(self, record: SearchRecord) -> SearchRecord:
        """Records how a search ended (status, counts, failure); the first completion wins."""
        ...

    def list_for_user(
        self, user: str, *, limit: int, cursor: Cursor | None, now: datetime
    ) -> SearchListing: ...


def _item(record: SearchRecord) -> dict[str, Any]:
    return {
        "search_id": record.search_id,
        "user": record.user,
        "created_at": iso_utc(record.created_at),
        "type": record.search_type.value,
        "criteria": json.dumps(record.criteria, sort_keys=True, separators=(",", ":")),
        "window_from": iso_utc(record.window_from),
        "window_to": iso_utc(record.window_to),
        "investigation_level": record.level.value,
        "purpose": record.why.purpose.value,
        "reason": record.why.reason,
        "case_ref": record.why.case_ref,
        "authorisation_id": record.authorisation_id,
        "status": record.status.value,
        "engine": record.engine,
        "execution_id": record.execution_id,
        "row_count": record.row_count,
        "truncated": record.truncated,
        "failure": record.failure,
        "completed_at": iso_utc(record.completed_at) if record.completed_at else None,
        "expires_at": int(record.expires_at.timestamp()),
    }


def _record(item: dict[str, Any]) -> SearchRecord:
    completed = item.get("completed_at")
    return SearchRecord(
        search_id=item["search_id"],
        user=item["user"],
        created_at=datetime.fromisoformat(item["created_at"]),
        search_type=SearchType(item["type"]),
        criteria=json.loads(item["criteria"]),
        window_from=datetime.fromisoformat(item["window_from"]),
        window_to=datetime.fromisoformat(item["window_to"]),
        level=InvestigationLevel(item["investigation_level"]),
        why=Why(Purpose(item["purpose"]), item["reason"], item["case_ref"]),
        authorisation_id=item.get("authorisation_id"),
        status=SearchStatus(item["status"]),
        engine=item["engine"],
        execution_id=item.get("execution_id"),
        row_count=item.get("row_count"),
        truncated=item.get("truncated"),
        failure=item.get("failure"),
        completed_at=datetime.fromisoformat(completed) if completed else None,
    )


class InMemorySearchStore:
    def __init__(self) -> None:
        self.records: dict[str, SearchRecord] = {}

    def put(self, record: SearchRecord) -> None:
        self.records[record.search_id] = record

    def get(self, search_id: str, *, now: datetime) -> SearchRecord | None:
        record = self.records.get(search_id)
        return record if record is not None and now < record.expires_at else None

    def complete(self, record: SearchRecord) -> SearchRecord:
        current = self.records[record.search_id]
        if current.finished:
            return current
        self.records[record.search_id] = record
        return record

    def list_for_user(self, user: str, *, limit: int, cursor: Cursor | None, now: datetime) -> SearchListing:
        mine = sorted(
            (r for r in self.records.values() if r.user == user and now < r.expires_at),
            key=lambda r: (iso_utc(r.created_at), r.search_id),
            reverse=True,
        )
        if cursor is not None:
            mine = [r for r in mine if (iso_utc(r.created_at), r.search_id) < cursor]
        page = mine[:limit]
        more = len(mine) > limit
        return SearchListing(
            page, (iso_utc(page[-1].created_at), page[-1].search_id) if more and page else None
        )


class DynamoSearchStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def put(self, record: SearchRecord) -> None:
        with store_call("put search"):
            self._client.put_item(
                TableName=self._table,
                Item=to_item(_item(record)),
                ConditionExpression="attribute_not_exists(search_id)",
            )

    def get(self, search_id: str, *, now: datetime) -> SearchRecord | None:
        with store_call("get search"):
            item = self._client.get_item(
                TableName=self._table, Key=to_item({"search_id": search_id}), ConsistentRead=True
            ).get("Item")
        if item is None:
            return None
        record = _record(from_item(item))
        return record if now < record.expires_at else None

    def complete(self, record: SearchRecord) -> SearchRecord:
        """One conditional update of the completion attributes, only while the search is unfinished
        (two readers finishing it at once write the same outcome; the second changes nothing)."""
        values = {name: _item(record)[name] for name in catalogue.SEARCH_COMPLETION_ATTRIBUTES}
        names = {f"#{name}": name for name in values}
        expression = ", ".join(f"#{name} = :{name}" for name in values)
        attributes = {f":{name}": to_attribute(value) for name, value in values.items()}
        attributes.update({":queued": to_attribute("queued"), ":running": to_attribute("running")})
        with store_call("complete search"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=to_item({"search_id": record.search_id}),
                    UpdateExpression=f"SET {expression}",
                    ConditionExpression="#status IN (:queued, :running)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=attributes,
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                current = self.get(record.search_id, now=record.created_at)
                return current or record
        return record

    def list_for_user(self, user: str, *, limit: int, cursor: Cursor | None, now: datetime) -> SearchListing:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by-user",
            "KeyConditionExpression": "#user = :user",
            "ExpressionAttributeNames": {"#user": "user"},
            "ExpressionAttributeValues": {":user": to_attribute(user)},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor is not None:
            request["ExclusiveStartKey"] = to_item(
                {"user": user, "created_at": cursor[0], "search_id": cursor[1]}
            )
        records: list[SearchRecord] = []
        with store_call("list searches"):
            while len(records) < limit:
                response = self._client.query(**request)
                records += [
                    r for r in map(_record, map(from_item, response.get("Items", []))) if now < r.expires_at
                ]
                last = response.get("LastEvaluatedKey")
                if last is None:
                    break
                request["ExclusiveStartKey"] = last
        records = records[:limit]
        more = len(records) == limit
        next_cursor = (iso_utc(records[-1].created_at), records[-1].search_id) if more and records else None
        return SearchListing(records, next_cursor)
