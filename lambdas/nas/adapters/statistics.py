"""The stores R-STATS reads and writes: read counts of a day through the search engine (Athena here,
DuckDB in `duckdb_statistics.py`), live VOI entries by source, and the daily documents in the
evidence bucket. Each returns counts, never rows: no read leaves the engine.

The reads of a capture day lie in its live partition and in the late partitions of the days after it
(`layout.day_ranges`); the statement names those partitions, so Athena reads only them, and groups
by LEA, hour and source type.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from nas.adapters import StoreError, store_call
from nas.adapters.dynamo import to_item
from nas.adapters.voi_keys import ENTRY_PREFIX
from nas.adapters.voi_lists import DynamoListStore
from nas.catalogue import READ_ARRIVAL_PARTITION, READ_DAY_PARTITION
from nas.domain.layout import day_ranges
from nas.domain.statistics import ReadCount, report_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

MAX_REPORT_BYTES = 4 * 1024 * 1024
_RUNNING = frozenset({"QUEUED", "RUNNING"})


class ReadCounts(Protocol):
    def reads_of_day(self, day: date, today: date) -> list[ReadCount]:
        """Reads captured on `day` (UTC) stored by `today`, counted by LEA, hour and source type."""
        ...


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _athena_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def athena_statement(day: date, today: date) -> tuple[str, list[str]]:
    """The counting statement and its ExecutionParameters (SQL literals): only constants of the code
    in the text; the day's partitions and bounds as parameters."""
    partitions: list[str] = []
    parameters: list[str] = []
    for days in day_ranges(day, day, max(day, today)):
        partitions.append(f"({READ_ARRIVAL_PARTITION} = ? AND {READ_DAY_PARTITION} BETWEEN ? AND ?)")
        parameters += [_athena_text(days.arrival.value), _athena_text(days.first.isoformat())]
        parameters.append(_athena_text(days.last.isoformat()))
    start, end = day_bounds(day)
    parameters += [
        _athena_text(start.strftime("%Y-%m-%d %H:%M:%S.000")),
        _athena_text(end.strftime("%Y-%m-%d %H:%M:%S.000")),
    ]
    # Only constants of the code and `?` in the text: the values are the parameters.
    sql = " ".join(
        [
            "SELECT lea, hour(captured_at) AS hour, source, count(*) AS reads FROM reads",
            "WHERE (" + " OR ".join(partitions) + ")",
            "AND captured_at >= CAST(? AS TIMESTAMP) AND captured_at < CAST(? AS TIMESTAMP)",
            "GROUP BY 1, 2, 3",
        ]
    )
    return sql, parameters


class AthenaReadCounts:
    """One Athena query a day, in the search workgroup; waits for it (the job has 15 minutes)."""

    def __init__(
        self,
        client: Any,
        *,
        workgroup: str,
        database: str,
        sleep: Callable[[float], None] = time.sleep,
        timeout_s: float = 600.0,
    ) -> None:
        self._client = client
        self._workgroup = workgroup
        self._database = database
        self._sleep = sleep
        self._timeout_s = timeout_s

    def reads_of_day(self, day: date, today: date) -> list[ReadCount]:
        sql, parameters = athena_statement(day, today)
        with store_call("statistics query start"):
            execution_id = self._client.start_query_execution(
                QueryString=sql,
                QueryExecutionContext={"Database": self._database},
                WorkGroup=self._workgroup,
                ExecutionParameters=parameters,
            )["QueryExecutionId"]
        waited = 0.0
        while True:
            with store_call("statistics query status"):
                status = self._client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
            state = status.get("Status", {}).get("State", "QUEUED")
            if state == "SUCCEEDED":
                break
            if state not in _RUNNING:
                reason = status.get("Status", {}).get("StateChangeReason") or state.lower()
                raise StoreError(f"statistics query {execution_id} {state.lower()}: {reason}")
            if waited >= self._timeout_s:
                raise StoreError(f"statistics query {execution_id} still running after {waited:.0f} s")
            self._sleep(2.0)
            waited += 2.0
        counts: list[ReadCount] = []
        request: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": 1000}
        first = True
        while True:
            with store_call("statistics query results"):
                response = self._client.get_query_results(**request)
            rows = response["ResultSet"]["Rows"]
            for row in rows[1:] if first else rows:  # the first page starts with the column names
                lea, hour, source, reads = (cell.get("VarCharValue") for cell in row["Data"])
                counts.append(ReadCount(str(lea), int(hour or 0), str(source), int(reads or 0)))
            first = False
            if not response.get("NextToken"):
                return counts
            request["NextToken"] = response["NextToken"]


class VoiCensus(Protocol):
    def live_by_source(self, now: datetime) -> dict[str, int]:
        """Live VOI entries (not expired at `now`), by source."""
        ...


class DynamoVoiCensus:
    """Counts single entries by source with one Scan (a daily job: about 1 KB an entry, so a million
    entries are some 32,000 read units), returning only each entry's source; entries past their
    expiry that TTL has not yet deleted are left out. Bulk lists (DVLA, MIB, PNC, the white list) are
    not entry items: their live generations' row counts come from the list state item."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def live_by_source(self, now: datetime) -> dict[str, int]:
        counts: dict[str, int] = {}
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "begins_with(#record, :entry) AND #expires > :now",
            "ProjectionExpression": "#source",
            "ExpressionAttributeNames": {"#record": "record", "#expires": "expires_at", "#source": "source"},
            "ExpressionAttributeValues": to_item({":entry": ENTRY_PREFIX, ":now": int(now.timestamp())}),
        }
        while True:
            with store_call("voi census Scan"):
                response = self._client.scan(**request)
            for item in response.get("Items", []):
                source = item.get("source", {}).get("S", "")
                counts[source] = counts.get(source, 0) + 1
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        for source, generation in DynamoListStore(self._client, self._table).state().live(now).items():
            counts[source.value] = counts.get(source.value, 0) + generation.rows
        return counts


class ReportStore(Protocol):
    def put(self, day: date, document: dict[str, Any]) -> str: ...

    def get(self, day: date) -> dict[str, Any] | None: ...


class S3ReportStore:
    """`statistics/daily/<day>.json` in the evidence bucket, replaced when the day is counted again
    (late reads keep arriving for a year). No lock: nothing in it is evidence of a person."""

    def __init__(self, client: S3Client, bucket: str, prefix: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def put(self, day: date, document: dict[str, Any]) -> str:
        key = report_key(self._prefix, day)
        body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
        with store_call("statistics report write"):
            self._client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                ChecksumAlgorithm="SHA256",  # the bucket has Object Lock, whose writes need a checksum
            )
        return key

    def get(self, day: date) -> dict[str, Any] | None:
        key = report_key(self._prefix, day)
        with store_call("statistics report read"):
            try:
                response = self._client.get_object(Bucket=self._bucket, Key=key)
            except self._client.exceptions.NoSuchKey:
                return None
            raw = response["Body"].read(MAX_REPORT_BYTES + 1)
        try:
            document = json.loads(raw) if len(raw) <= MAX_REPORT_BYTES else None
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise StoreError(f"statistics report {key} is malformed")
        return document


class InMemoryReportStore:
    def __init__(self) -> None:
        self.documents: dict[date, dict[str, Any]] = {}

    def put(self, day: date, document: dict[str, Any]) -> str:
        self.documents[day] = json.loads(json.dumps(document))
        return report_key("statistics/daily/", day)

    def get(self, day: date) -> dict[str, Any] | None:
        return self.documents.get(day)
