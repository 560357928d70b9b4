"""The search engine of local mode, tests and the bench: DuckDB over the same Parquet layout Athena
reads, through a pyarrow filesystem (S3 on moto in local mode; a local directory in the bench). DuckDB's
httpfs extension is not used: it would be downloaded at run time.

A search runs when it starts (a local search takes well under a second), and its rows are kept by the
engine's result store as Athena keeps its output, so the service pages both engines the same way.

Pruning: only the files of the plan's partitions are listed (arrival, days, VRM bucket); the plan's
predicates are pushed into the pyarrow scan of those files, which reads only the columns a search
returns and skips row groups by their Parquet statistics (rows are sorted by canonical VRM within a
file, so a VRM search reads one row group or two of each); DuckDB then runs the plan's statement, with
every predicate again, over the rows that can match. A convoy first scans the target's reads (one
bucket), then its cameras' reads in every bucket. The rows of corrected reads (R-CORRECT: the plan's
`fixes`) are read from their own partitions and added, since a read corrected to the searched VRM is
stored under the VRM the camera read; the statement decides, by effective VRM, which rows match.
Never shipped to Lambda (duckdb is not in the layer).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.dataset as ds  # type: ignore[import-untyped]
import pyarrow.fs as pafs  # type: ignore[import-untyped]

from nas.adapters.search import EnginePage, EngineState, EngineStatus, UnknownExecution
from nas.adapters.search_results import InMemoryResultStore, ResultStore, StoredResult
from nas.catalogue import READ_PARTITION_KEYS, READ_ROW_COLUMNS, READS_PREFIX
from nas.domain.layout import Arrival, Partition, vrm_bucket
from nas.domain.search import ROW_LIMIT, SearchPlan, SearchType
from nas.domain.search_sql import DUCKDB, hit_of, statement
from nas.domain.vrm import canonical_vrm

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
SCAN_COLUMNS = [
    "read_id",
    "vrm",
    "vrm_canonical",
    "captured_at",
    "camera_id",
    "lea",
    "lat",
    "lon",
    "direction",
    "confidence",
    "ingested_at",
    *PARTITION_SCHEMA.names,
]
"""What the statements use: never the image references."""
SCAN_TIME = pa.timestamp("us", tz="UTC")
MAX_VRMS_BY_BUCKET = 200
"""Beyond this many VRMs, reading their rows bucket by bucket gains nothing over one pass."""
PAGE_ROWS = 1000
"""Rows per engine page (as Athena's GetQueryResults)."""


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
        self.last_files_target: list[str] = []

    def start(self, plan: SearchPlan, *, search_id: str) -> str:
        execution_id = self._new_id()
        hits = self.run(plan)
        # The plan's limit: a search's 1,001 rows, or a system search's (R-SAR exports) more.
        self._results.put(
            execution_id, StoredResult(plan.search_type, hits[: plan.limit], truncated=len(hits) > ROW_LIMIT)
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

    def run(self, plan: SearchPlan) -> list[Any]:
        """The plan's hits, at most `plan.limit`, in its order."""
        if plan.empty:
            return []
        rows = self.candidates(plan)
        query = statement(plan, DUCKDB)
        connection = duckdb.connect(config={"threads": self._threads})
        try:
            connection.execute("SET TimeZone = 'UTC'")
            connection.register("reads", rows)
            found = connection.execute(query.sql, list(query.parameters)).fetchall()
        finally:
            connection.close()
        return [hit_of(plan.search_type, row) for row in found]

    def candidates(self, plan: SearchPlan) -> pa.Table:
        """The rows of the plan's partitions that can match (the statement decides which do).

        VRM and location searches scan once. A partial plate has no bucket: its VRMs are found from
        the `vrm` column alone, then only their rows are read (their buckets, their row groups). A
        convoy reads the target's reads (one bucket), then the canonical VRMs seen at its cameras
        within `within_s` (three columns, on the days those instants fall on and every late day),
        then those VRMs' rows."""
        window = (pc.field("captured_at") >= pa.scalar(plan.window_from, SCAN_TIME)) & (
            pc.field("captured_at") <= pa.scalar(plan.window_to, SCAN_TIME)
        )
        fixed = self._fixed_rows(plan, window)
        return pa.concat_tables([self._stored_candidates(plan, window, fixed), fixed])

    def _stored_candidates(self, plan: SearchPlan, window: Any, fixed: pa.Table) -> pa.Table:
        if plan.search_type is SearchType.VRM:
            matches = pc.field("vrm_canonical") == plan.vrm_canonical
            if plan.exact:
                matches &= pc.field("vrm") == plan.vrm
            return self._scan(self.files(plan.partitions(self._buckets(plan))), window & matches)
        if plan.search_type is SearchType.LOCATION:
            cameras = pa.array(plan.camera_ids, pa.string())
            return self._scan(self.files(plan.partitions()), window & pc.field("camera_id").isin(cameras))
        if plan.search_type is SearchType.PARTIAL:
            like = window & pc.match_like(pc.field("vrm"), plan.like)
            vrms = self._scan(self.files(plan.partitions()), like, ["vrm"]).column("vrm").unique().to_pylist()
            return self._rows_of(plan, set(map(canonical_vrm, vrms)), like & pc.field("vrm").isin(vrms))
        return self._convoy(plan, window, fixed)

    @staticmethod
    def _buckets(plan: SearchPlan) -> list[int] | None:
        return [plan.vrm_bucket] if plan.vrm_bucket is not None else None

    def _fixed_rows(self, plan: SearchPlan, window: Any) -> pa.Table:
        """The stored rows of the plan's corrected reads (R-CORRECT), from their own partitions."""
        if not plan.fixes:
            return self.dataset([]).to_table(columns=SCAN_COLUMNS)
        reads = pa.array(sorted({f.ref.read_id for f in plan.fixes}), pa.string())
        cameras = pa.array(sorted({f.ref.camera_id for f in plan.fixes}), pa.string())
        predicate = window & pc.field("read_id").isin(reads) & pc.field("camera_id").isin(cameras)
        files = self.files(plan.fix_partitions())
        return self.dataset(files).to_table(columns=SCAN_COLUMNS, filter=predicate)

    def _convoy(self, plan: SearchPlan, window: Any, fixed: pa.Table) -> pa.Table:
        target_files = self.files(plan.partitions([plan.target_bucket or 0]))
        stored_targets = self._scan(
            target_files,
            window & (pc.field("vrm_canonical") == plan.vrm_canonical) & (pc.field("vrm") == plan.vrm),
        )
        # Reads corrected to the target count as its reads; the statement drops those corrected away.
        targets = pa.concat_tables([stored_targets, fixed])
        self.last_files_target = target_files
        if targets.num_rows == 0:
            return targets
        within = timedelta(seconds=plan.within_s or 0)
        by_camera: dict[str, list[datetime]] = {}
        for camera_id, at in zip(
            targets.column("camera_id").to_pylist(), targets.column("captured_at").to_pylist(), strict=True
        ):
            by_camera.setdefault(camera_id, []).append(at)
        days = {
            moment.astimezone(UTC).date()
            for times in by_camera.values()
            for t in times
            for moment in (t - within, t + within)
        }
        cameras = pa.array(sorted(by_camera), pa.string())
        wanted = [p for p in plan.partitions() if p.arrival is Arrival.LATE or p.day in days]
        seen = self._scan(
            self.files(wanted),
            window & pc.field("camera_id").isin(cameras),
            ["camera_id", "captured_at", "vrm_canonical"],
        )
        canonicals = {plan.vrm_canonical}
        for camera_id, at, canonical in zip(
            *(seen.column(c).to_pylist() for c in seen.column_names), strict=True
        ):
            if any(abs(at - t) <= within for t in by_camera[camera_id]):
                canonicals.add(canonical)
        return self._rows_of(plan, canonicals, window & pc.field("camera_id").isin(cameras))

    def _rows_of(self, plan: SearchPlan, canonicals: set[str | None], predicate: Any) -> pa.Table:
        """The rows of the given canonical VRMs: only their buckets' files, and in them the row groups
        whose statistics hold them. Many VRMs (a broad pattern) are read in one pass instead."""
        known = sorted(c for c in canonicals if c)
        if len(known) > MAX_VRMS_BY_BUCKET:
            return self._scan(self.files(plan.partitions()), predicate)
        if not known:
            return self._scan([], predicate)
        files = self.files(plan.partitions({vrm_bucket(c) for c in known}))
        any_of: Any = None
        for canonical in known:
            term = pc.field("vrm_canonical") == canonical
            any_of = term if any_of is None else any_of | term
        return self._scan(files, predicate & any_of)

    def _scan(self, files: list[str], predicate: Any, columns: list[str] | None = None) -> pa.Table:
        self.last_files = files
        return self.dataset(files).to_table(columns=columns or SCAN_COLUMNS, filter=predicate)

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
            return ds.dataset(pa.Table.from_batches([], schema=DATASET_SCHEMA))
        return ds.dataset(
            files,
            schema=DATASET_SCHEMA,
            format="parquet",
            filesystem=self._fs,
            partitioning=ds.partitioning(PARTITION_SCHEMA, flavor="hive"),
            partition_base_dir=f"{self._root}/{READS_PREFIX.rstrip('/')}",
        )
