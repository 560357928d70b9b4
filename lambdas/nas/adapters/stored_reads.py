"""Stored reads by reference (read views, preservations): the port, and its Athena version for AWS
(the DuckDB-less Lambda has no Parquet reader). Each reference names the read's partition, so a read
view reads one partition, never a scan (docs/reads.md). The local version, over the same Parquet with
pyarrow, is `parquet_reads.py`.

The Athena query runs in the search workgroup (its enforced settings, results bucket and scan cutoff)
and the request waits for it: a one-partition query ends in a second or two; past `wait_s` the caller
gets a 503 and may try again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection
from typing import Any, Protocol

from nas.adapters import StoreError, store_call
from nas.batching import chunks
from nas.domain.layout import ReadRef
from nas.domain.search_sql import (
    ATHENA,
    MAX_REFS_PER_STATEMENT,
    STORED_RESULT_COLUMNS,
    stored_row,
    stored_statement,
)
from nas.domain.stored import StoredRow, first_stored

ReadKey = tuple[str, str]
"""(camera id, read id)."""


class ReadStore(Protocol):
    def get_many(self, refs: Collection[ReadRef]) -> dict[ReadKey, StoredRow]:
        """The stored row of each referenced read that is still stored (the copy stored first)."""
        ...


class QueryTimedOut(StoreError):
    """The query did not finish within the wait; nothing is wrong with the request."""


_RUNNING = frozenset({"QUEUED", "RUNNING"})


class AthenaReadStore:
    def __init__(
        self,
        client: Any,
        *,
        workgroup: str,
        database: str,
        wait_s: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._workgroup = workgroup
        self._database = database
        self._wait_s = wait_s
        self._sleep = sleep
        self._monotonic = monotonic

    def get_many(self, refs: Collection[ReadRef]) -> dict[ReadKey, StoredRow]:
        """One query per 100 references, all started before any is waited for."""
        executions = [
            self._start(list(chunk))
            for chunk in chunks(sorted(set(refs), key=ReadRef.encode), MAX_REFS_PER_STATEMENT)
        ]
        rows: list[StoredRow] = []
        for execution_id in executions:
            self._wait(execution_id)
            rows += self._rows(execution_id)
        return first_stored(rows)

    def _start(self, refs: list[ReadRef]) -> str:
        query = stored_statement(refs, ATHENA)
        with store_call("start stored-read query"):
            response = self._client.start_query_execution(
                QueryString=query.sql,
                QueryExecutionContext={"Database": self._database},
                WorkGroup=self._workgroup,
                ExecutionParameters=[str(p) for p in query.parameters],
                ClientRequestToken=str(uuid.uuid4()),
            )
        return str(response["QueryExecutionId"])

    def _wait(self, execution_id: str) -> None:
        deadline = self._monotonic() + self._wait_s
        delay = 0.1
        while True:
            with store_call("stored-read query status"):
                status = self._client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"][
                    "Status"
                ]
            state = status.get("State", "QUEUED")
            if state == "SUCCEEDED":
                return
            if state not in _RUNNING:
                raise StoreError(
                    f"stored-read query {state.lower()}: {status.get('StateChangeReason', '')[:200]}"
                )
            if self._monotonic() > deadline:
                raise QueryTimedOut("the stored-read query is still running")
            self._sleep(delay)
            delay = min(delay * 2, 1.0)

    def _rows(self, execution_id: str) -> list[StoredRow]:
        rows: list[StoredRow] = []
        token: str | None = None
        while True:
            request: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": 1000}
            if token:
                request["NextToken"] = token
            with store_call("stored-read query results"):
                response = self._client.get_query_results(**request)
            values = [
                [c.get("VarCharValue") for c in r.get("Data", [])] for r in response["ResultSet"]["Rows"]
            ]
            if token is None and values and tuple(values[0]) == STORED_RESULT_COLUMNS:
                values = values[1:]
            rows += [stored_row(v) for v in values]
            token = response.get("NextToken")
            if not token:
                return rows
