"""Stands in for the Firehose delivery stream: buffers the archive consumer's JSON rows and writes
them as Parquet into the reads bucket, Hive-partitioned by arrival, day and VRM bucket (`domain/layout.py`),
as Firehose's dynamic partitioning and record format conversion do in AWS (schema from
catalogue.READ_ROW_COLUMNS). Rows are sorted by canonical VRM within each file, so a VRM search
skips the row groups of other VRMs (Firehose cannot sort; docs/search.md)."""

from __future__ import annotations

import io
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from nas.catalogue import READ_ARRIVAL_PARTITION, READ_BUCKET_PARTITION, READ_DAY_PARTITION, READ_ROW_COLUMNS
from nas.domain.layout import Arrival, Partition

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 10.0
MAX_BUFFERED_ROWS = 50_000  # flush early rather than hold more than this in memory

_ARROW_TYPES: dict[str, Any] = {
    "string": pa.string(),
    "timestamp": pa.timestamp("ms", tz="UTC"),  # the JSON carries epoch milliseconds
    "double": pa.float64(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
}

READ_ROW_SCHEMA = pa.schema([pa.field(name, _ARROW_TYPES[type_]) for name, type_ in READ_ROW_COLUMNS])
# Within a file: one VRM's reads together, so Parquet's min/max statistics of `vrm_canonical` let a
# search skip every other row group.
SORT_KEYS = [("vrm_canonical", "ascending"), ("captured_at", "ascending")]
ROW_GROUP_ROWS = 2048


def parquet_key(partition: Partition) -> str:
    return f"{partition.prefix}part-{uuid.uuid4()}.parquet"


def parquet_table_bytes(table: pa.Table) -> bytes:
    """A table of READ_ROW_SCHEMA as one Parquet file: sorted by canonical VRM and capture time, in
    row groups of ROW_GROUP_ROWS with statistics."""
    buffer = io.BytesIO()
    pq.write_table(
        table.sort_by(SORT_KEYS),
        buffer,
        compression="snappy",
        row_group_size=ROW_GROUP_ROWS,
        write_statistics=True,
    )
    return buffer.getvalue()


def parquet_bytes(rows: Sequence[dict[str, Any]]) -> bytes:
    """The rows as one Parquet file of READ_ROW_SCHEMA (the partition values stay out of it)."""
    table = pa.Table.from_pylist(
        [{name: row.get(name) for name in READ_ROW_SCHEMA.names} for row in rows], schema=READ_ROW_SCHEMA
    )
    return parquet_table_bytes(table)


def row_partition(row: Any) -> Partition:
    """The partition a JSON row names (ValueError if it names none)."""
    if not isinstance(row, dict):
        raise ValueError("not a row")
    arrival, day = row.get(READ_ARRIVAL_PARTITION), row.get(READ_DAY_PARTITION)
    bucket = row.get(READ_BUCKET_PARTITION)
    if not isinstance(arrival, str) or not isinstance(day, str) or not isinstance(bucket, int):
        raise ValueError("not a row with partition values")
    return Partition(Arrival(arrival), date.fromisoformat(day), bucket)


class ParquetRowSink:
    """`RowSink` for local mode. `put_rows` only buffers (as Firehose accepts then delivers); a
    background thread writes whatever is buffered every `flush_interval_s`, and `close` flushes."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        *,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        max_buffered_rows: int = MAX_BUFFERED_ROWS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._interval = flush_interval_s
        self._max_rows = max_buffered_rows
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._buffer: dict[Partition, list[dict[str, Any]]] = defaultdict(list)
        self._buffered = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rows_written = 0
        self.files_written = 0

    def put_rows(self, rows: Sequence[bytes]) -> set[int]:
        failed: set[int] = set()
        decoded: list[tuple[Partition, dict[str, Any]]] = []
        for index, raw in enumerate(rows):
            try:
                row = orjson.loads(raw)
                decoded.append((row_partition(row), row))
            except ValueError:
                failed.add(index)
        with self._lock:
            for partition, row in decoded:
                self._buffer[partition].append(row)
            self._buffered += len(decoded)
            full = self._buffered >= self._max_rows
        if full:
            self.flush()
        return failed

    def flush(self) -> int:
        """Writes every buffered row (one file per partition); returns how many were written.
        Rows whose file could not be stored go back in the buffer for the next flush."""
        with self._flush_lock:
            with self._lock:
                pending, self._buffer = self._buffer, defaultdict(list)
                self._buffered = 0
            written = 0
            for partition, rows in pending.items():
                try:
                    self._s3.put_object(
                        Bucket=self._bucket,
                        Key=parquet_key(partition),
                        Body=parquet_bytes(rows),
                        ContentType="application/vnd.apache.parquet",
                    )
                except Exception:
                    log.exception(
                        "writing %d row(s) of %s failed; kept for the next flush", len(rows), partition.prefix
                    )
                    with self._lock:
                        self._buffer[partition][:0] = rows
                        self._buffered += len(rows)
                    continue
                written += len(rows)
                self.files_written += 1
            self.rows_written += written
            return written

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="parquet-sink", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()
