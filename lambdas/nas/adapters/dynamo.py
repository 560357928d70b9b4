"""Low-level DynamoDB helpers shared by the adapters: typed (de)serialisation and batch calls that
retry unprocessed items with backoff, never one call per item."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from nas.adapters import StoreError
from nas.batching import backoff_delays, chunks
from nas.catalogue import Key, TableSpec

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
MAX_ATTEMPTS = 8

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class UnprocessedItemsError(StoreError):
    """DynamoDB kept returning unprocessed items after every retry (sustained throttling)."""


def to_attribute(value: Any) -> Any:
    """Python value to DynamoDB JSON; floats go through Decimal, which is all DynamoDB accepts."""
    return _serializer.serialize(_decimals(value))


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: to_attribute(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def batch_get(
    client: DynamoDBClient,
    table: str,
    keys: Iterable[Mapping[str, Any]],
    *,
    projection: str | None = None,
    names: Mapping[str, str] | None = None,
    consistent: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Items for `keys` (plain dicts), in as few BatchGetItem calls as the 100-key limit allows;
    unprocessed keys are retried with exponential backoff."""
    wire_keys = [to_item(k) for k in keys]
    found: list[dict[str, Any]] = []
    for chunk in chunks(wire_keys, BATCH_GET_LIMIT):
        request: dict[str, Any] = {"Keys": list(chunk), "ConsistentRead": consistent}
        if projection:
            request["ProjectionExpression"] = projection
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        pending: dict[str, Any] = {table: request}
        delays = backoff_delays()
        for attempt in range(MAX_ATTEMPTS):
            response = client.batch_get_item(RequestItems=pending)
            found.extend(from_item(item) for item in response.get("Responses", {}).get(table, []))
            pending = dict(response.get("UnprocessedKeys") or {})
            if not pending:
                break
            if attempt + 1 < MAX_ATTEMPTS:
                sleep(next(delays))
        else:
            raise UnprocessedItemsError(f"{table}: keys still unprocessed after {MAX_ATTEMPTS} attempts")
    return found


def batch_put(
    client: DynamoDBClient,
    table: str,
    items: Iterable[Mapping[str, Any]],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Writes `items` with BatchWriteItem (25 a call), retrying unprocessed ones; returns the count."""
    return _batch_write(client, table, [{"PutRequest": {"Item": to_item(item)}} for item in items], sleep)


def batch_delete(
    client: DynamoDBClient,
    table: str,
    keys: Iterable[Mapping[str, Any]],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Deletes the items of `keys` with BatchWriteItem (25 a call), retrying unprocessed ones."""
    return _batch_write(client, table, [{"DeleteRequest": {"Key": to_item(key)}} for key in keys], sleep)


def _batch_write(
    client: DynamoDBClient, table: str, requests: list[dict[str, Any]], sleep: Callable[[float], None]
) -> int:
    for chunk in chunks(requests, BATCH_WRITE_LIMIT):
        pending: dict[str, Any] = {table: list(chunk)}
        delays = backoff_delays()
        for attempt in range(MAX_ATTEMPTS):
            response = client.batch_write_item(RequestItems=pending)
            pending = dict(response.get("UnprocessedItems") or {})
            if not pending:
                break
            if attempt + 1 < MAX_ATTEMPTS:
                sleep(next(delays))
        else:
            raise UnprocessedItemsError(f"{table}: items still unprocessed after {MAX_ATTEMPTS} attempts")
    return len(requests)


def query_items(
    client: DynamoDBClient, request: Mapping[str, Any], start_key: Mapping[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """Every item a Query returns (plain dicts), page after page, from `start_key` (plain) if given."""
    paged: dict[str, Any] = dict(request)
    if start_key is not None:
        paged["ExclusiveStartKey"] = to_item(start_key)
    while True:
        response = client.query(**paged)
        yield from (from_item(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return
        paged["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def create_table(client: DynamoDBClient, spec: TableSpec, name: str) -> None:
    """Creates `spec` as `name` (on-demand, with its indexes and TTL): local mode and tests make
    the same tables as the CDK app from the same catalogue."""
    keys = [spec.partition_key, *([spec.sort_key] if spec.sort_key else [])]
    for index in spec.indexes:
        keys += [index.partition_key, *([index.sort_key] if index.sort_key else [])]
    definitions = {k.name: {"AttributeName": k.name, "AttributeType": k.type.value} for k in keys}

    def schema(partition: Key, sort: Key | None) -> list[dict[str, str]]:
        return [{"AttributeName": partition.name, "KeyType": "HASH"}] + (
            [{"AttributeName": sort.name, "KeyType": "RANGE"}] if sort else []
        )

    request: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": list(definitions.values()),
        "KeySchema": schema(spec.partition_key, spec.sort_key),
    }
    if spec.indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": schema(index.partition_key, index.sort_key),
                "Projection": (
                    {"ProjectionType": "ALL"}
                    if index.projection is None
                    else {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projection)}
                ),
            }
            for index in spec.indexes
        ]
    client.create_table(**request)
    client.get_waiter("table_exists").wait(TableName=name)
    if spec.ttl_attribute:
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
        )
