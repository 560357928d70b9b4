"""The port both search engines sit behind (Athena in AWS: `athena.py`; DuckDB locally and in tests:
`duckdb_search.py`): start a plan's query, ask its state, read its rows page by page.

`start` returns an execution id at once (Athena runs the query in the background; DuckDB has run it by
then). `page` returns hits in the plan's order and an opaque token for the next page, None after
the last. The search service reads every page once, when the query has succeeded, and keeps the
result itself (`search_results.py`), so callers page through the same stored rows whatever the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from nas.adapters import StoreError
from nas.domain.search import Hit, SearchPlan, SearchType


class EngineState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class EngineStatus:
    state: EngineState
    reason: str | None = None
    bytes_scanned: int | None = None


@dataclass(frozen=True, slots=True)
class EnginePage:
    hits: list[Hit]
    next_token: str | None


class UnknownExecution(StoreError):
    """The engine has no execution of that id (or no longer has its results)."""


class SearchEngine(Protocol):
    name: str

    def start(self, plan: SearchPlan, *, search_id: str) -> str:
        """Starts the plan's query; returns the execution id. Raises StoreError when it cannot."""
        ...

    def status(self, execution_id: str) -> EngineStatus: ...

    def page(self, execution_id: str, search_type: SearchType, token: str | None) -> EnginePage: ...
