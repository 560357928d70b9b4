"""The search engine in AWS: Athena (engine version 3, Trino SQL) over the Glue `reads` table, in the
search workgroup, whose enforced settings put encrypted results in the Athena results bucket.

The statement is the plan's Athena dialect (`domain/search_sql.py`): its text holds no value a caller
sent; every value goes in `ExecutionParameters`. `ClientRequestToken` is the search id, so a retried
start cannot run the query twice.
"""

from __future__ import annotations

from typing import Any

from nas.adapters import store_call
from nas.adapters.search import EnginePage, EngineState, EngineStatus
from nas.domain.search import Hit, SearchPlan, SearchType
from nas.domain.search_sql import ATHENA, CONVOY_RESULT_COLUMNS, READ_RESULT_COLUMNS, hit_of, statement

PAGE_ROWS = 1000  # GetQueryResults' maximum
_RUNNING = frozenset({"QUEUED", "RUNNING"})
_FAILED = frozenset({"FAILED", "CANCELLED"})


class AthenaSearchEngine:
    name = "athena"

    def __init__(self, client: Any, *, workgroup: str, database: str) -> None:
        self._client = client
        self._workgroup = workgroup
        self._database = database

    def start(self, plan: SearchPlan, *, search_id: str) -> str:
        query = statement(plan, ATHENA)
        with store_call("start search query"):
            response = self._client.start_query_execution(
                QueryString=query.sql,
                QueryExecutionContext={"Database": self._database},
                WorkGroup=self._workgroup,
                ExecutionParameters=[str(p) for p in query.parameters],
                ClientRequestToken=search_id,
            )
        return str(response["QueryExecutionId"])

    def status(self, execution_id: str) -> EngineStatus:
        with store_call("search query status"):
            execution = self._client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        state = execution.get("Status", {}).get("State", "QUEUED")
        scanned = execution.get("Statistics", {}).get("DataScannedInBytes")
        if state in _RUNNING:
            return EngineStatus(EngineState.RUNNING)
        if state in _FAILED:
            reason = execution.get("Status", {}).get("StateChangeReason") or state.lower()
            return EngineStatus(EngineState.FAILED, reason=str(reason)[:500], bytes_scanned=scanned)
        return EngineStatus(EngineState.SUCCEEDED, bytes_scanned=scanned)

    def page(self, execution_id: str, search_type: SearchType, token: str | None) -> EnginePage:
        request: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": PAGE_ROWS}
        if token:
            request["NextToken"] = token
        with store_call("search query results"):
            response = self._client.get_query_results(**request)
        rows = [
            [cell.get("VarCharValue") for cell in row.get("Data", [])]
            for row in response["ResultSet"]["Rows"]
        ]
        columns = CONVOY_RESULT_COLUMNS if search_type is SearchType.CONVOY else READ_RESULT_COLUMNS
        if token is None and rows and tuple(rows[0]) == columns:
            rows = rows[1:]  # the first page of a SELECT starts with the column names
        hits: list[Hit] = [hit_of(search_type, row) for row in rows]
        return EnginePage(hits, response.get("NextToken"))
