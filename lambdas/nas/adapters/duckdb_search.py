"""The search engine of local mode, tests and the bench: DuckDB over the same Parquet layout Athena
reads, through a pyarrow filesystem (S3 on moto in local mode; a local directory in the bench). DuckDB's
httpfs extension is not used: it would be downloaded at run time.

A search runs when it starts (a local search takes well under a second), and its rows are kept by the
engine's result store as Athena keeps its output, so the service pages both engines the same way.

Pruning: only the files of the plan's partitions are listed (arrival, days, VRM bucket), and the
dataset given to DuckDB is those files alone; DuckDB pushes the plan's column equalities and ranges
down into the pyarrow scan, which skips row groups by their Parquet statistics (rows are sorted by
canonical VRM within each file). Never shipped to Lambda (duckdb is not in the layer).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.dataset as ds  # type: ignore[import-untyped]
import pyarrow.fs as pafs  # type: ignore[import-untyped]

from nas.adapters.search import EnginePage, EngineState, EngineStatus, UnknownExecution
from nas.adapters.search_results import InMemoryResultStore, ResultStore, StoredResult
from nas.catalogue import READ_PARTITION_KEYS, READ_ROW_COLUMNS, READS_PREFIX
from nas.domain.layout import Partition
from nas.domain.search import FETCH_LIMIT, ROW_LIMIT, SearchPlan, SearchType
from nas.domain.search_sql import DUCKDB, hit_of, statement

_ARROW_TYPES: dict[str, Any] = {
    "string": pa.string(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "double": pa.float64(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
}
PARTITION_SCHEMA = pa.schema([pa.field(name, _ARROW_TYPES[type_]) for name, type_ in READ_PARTITION_KEYS])
DATASET_SCHEMA = pa.schema(
    [pa.field(name, _ARROW_TYPES[type_]) for name, type_ in READ_ROW_COLUMNS] + list(PARTITION_SCHEMA)
)
PAGE_ROWS = 1000
"""Rows per engine page (as Athena's GetQueryResults)."""


def s3_filesystem(endpoint_url: str | None, region: str) -> pafs.S3FileSystem:
    """pyarrow's S3 client, pointed at `endpoint_url` (moto) when given; credentials come from the
    environment, as boto3's do."""
    options: dict[str, Any] = {"region": region}
    if endpoint_url:
        scheme, _, host = endpoint_url.partition("://")
        options.update(endpoint_override=host.rstrip("/"), scheme=scheme)
    return pafs.S3FileSystem(**options)


class DuckDbSearchEngine:
    name = "duckdb"

    def __init__(
        self,
        filesystem: pafs.FileSystem,
        root: str,
        *,
        results: ResultStore | None = None,
        threads: int = 2,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        """`root` is where `reads/` lies: `<bucket>` on S3, a directory on a local filesystem."""
        self._fs = filesystem
        self._root = root.rstrip("/")
        self._results = results or InMemoryResultStore()
        self._threads = threads
        self._new_id = new_id
        self._lock = threading.Lock()
        self.last_files: list[str] = []

    # --- the port ----------------------------------------------------------------------------------

    def start(self, plan: SearchPlan, *, search_id: str) -> str:
        execution_id = self._new_id()
        hits = self.run(plan)
        self._results.put(
            execution_id, StoredResult(plan.search_type, hits[:FETCH_LIMIT], truncated=len(hits) > ROW_LIMIT)
        )
        return execution_id

    def status(self, execution_id: str) -> EngineStatus:
        if self._results.get(execution_id) is None:
            raise UnknownExecution(f"no local execution {execution_id}")
        return EngineStatus(EngineState.SUCCEEDED)

    def page(self, execution_id: str, search_type: SearchType, token: str | None) -> EnginePage:
        stored = self._results.get(execution_id)
        if stored is None:
            raise UnknownExecution(f"no local execution {execution_id}")
        offset = int(token or 0)
        hits = stored.hits[offset : offset + PAGE_ROWS]
        more = offset + PAGE_ROWS < len(stored.hits)
        return EnginePage(hits, str(offset + PAGE_ROWS) if more else None)

    # --- running a plan ----------------------------------------------------------------------------

    def run(self, plan: SearchPlan) -> list[Any]:
        """The plan's hits, at most `plan.limit`, in its order."""
        if plan.empty:
            return []
        files = self.files(plan.partitions())
        self.last_files = files
        query = statement(plan, DUCKDB)
        connection = duckdb.connect(config={"threads": self._threads})
        try:
            connection.execute("SET TimeZone = 'UTC'")
            connection.register("reads", self.dataset(files))
            rows = connection.execute(query.sql, list(query.parameters)).fetchall()
        finally:
            connection.close()
        return [hit_of(plan.search_type, row) for row in rows]

    def files(self, partitions: Iterable[Partition]) -> list[str]:
        """The Parquet files of `partitions`: one listing per partition when a day is read in one
        bucket, else one listing of the whole day, keeping the wanted buckets."""
        by_day: dict[tuple[str, str], set[int]] = {}
        for p in partitions:
            by_day.setdefault((p.arrival.value, p.day.isoformat()), set()).add(p.vrm_bucket)
        found: list[str] = []
        for (arrival, day), buckets in sorted(by_day.items()):
            day_prefix = f"{READS_PREFIX}arrival={arrival}/day={day}/"
            if len(buckets) == 1:
                found += self._list(f"{day_prefix}vrm_bucket={next(iter(buckets))}/")
                continue
            for path in self._list(day_prefix):
                bucket = path.rsplit("/vrm_bucket=", 1)[-1].split("/", 1)[0]
                if bucket.isdigit() and int(bucket) in buckets:
                    found.append(path)
        return found

    def _list(self, prefix: str) -> list[str]:
        selector = pafs.FileSelector(f"{self._root}/{prefix}", recursive=True, allow_not_found=True)
        with self._lock:  # pyarrow's S3 client is thread-safe; the lock keeps listings in order for tests
            infos = self._fs.get_file_info(selector)
        return [i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(".parquet")]

    def dataset(self, files: list[str]) -> Any:
        if not files:
            return pa.Table.from_batches([], schema=DATASET_SCHEMA)
        return ds.dataset(
            files,
            schema=DATASET_SCHEMA,
            format="parquet",
            filesystem=self._fs,
            partitioning=ds.partitioning(PARTITION_SCHEMA, flavor="hive"),
            partition_base_dir=f"{self._root}/{READS_PREFIX.rstrip('/')}",
        )
