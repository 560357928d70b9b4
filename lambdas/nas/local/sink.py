"""Stands in for the Firehose delivery stream: takes the archive consumer's JSON rows and writes them
as Parquet into the reads bucket, Hive-partitioned by arrival, day and VRM bucket
(`domain/layout.py`), as Firehose's dynamic partitioning and record format conversion do in AWS
(schema from catalogue.READ_ROW_COLUMNS). Rows are sorted by canonical VRM within each file, so a
VRM search skips the row groups of other VRMs (Firehose cannot sort; docs/search.md).

Rows are acknowledged only once they are durable. A row is first staged by the poller thread whose
batch sent it; when the poller commits its stream position, the batch's rows and the position go to
a write-ahead journal on disk in one append (`RowJournal`). Every `flush_interval_s` the journal is
rotated and its rows written as Parquet; the object keys are recorded before the PUTs, so a crash
during a flush repeats the same PUTs on the next start instead of writing the rows twice. A crashed
run therefore loses no acknowledged row and stores none twice, and archive resumes after the last
batch whose rows are in the journal. Rows Parquet conversion refuses go, as Firehose's do, to
`firehose-errors/format-conversion-failed/` in the reads bucket, where `nas replay firehose-errors`
finds them.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from nas.catalogue import (
    GLUE_READS_TABLE,
    READ_ARRIVAL_PARTITION,
    READ_BUCKET_PARTITION,
    READ_DAY_PARTITION,
    READ_ROW_COLUMNS,
)
from nas.domain.layout import Arrival, Partition
from nas.domain.timefmt import epoch_millis, utc_date
from nas.local.checkpoints import write_atomically

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 10.0
MAX_BUFFERED_ROWS = 50_000  # flush early rather than hold more than this in the journal
FIREHOSE_ERRORS_PREFIX = "firehose-errors/format-conversion-failed/"

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


# The layout (where a row's file goes) is these two functions alone; the journal and the flush
# work on whatever partition they name, so a change of layout does not touch durability.


def row_partition(row: dict[str, Any]) -> str | None:
    """The prefix of the partition a row is written under (one Parquet file per partition per
    flush), or None when the row names none: its arrival, day and VRM bucket (`domain/layout.py`)."""
    arrival, day = row.get(READ_ARRIVAL_PARTITION), row.get(READ_DAY_PARTITION)
    bucket = row.get(READ_BUCKET_PARTITION)
    if not isinstance(arrival, str) or not isinstance(day, str) or not isinstance(bucket, int):
        return None
    try:
        return Partition(Arrival(arrival), date.fromisoformat(day), bucket).prefix
    except ValueError:
        return None


def parquet_key(partition_prefix: str) -> str:
    return f"{partition_prefix}part-{uuid.uuid4()}.parquet"


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


def convertible(row: dict[str, Any]) -> str | None:
    """Why Parquet conversion would refuse `row` (as Firehose's would), or None."""
    try:
        pa.Table.from_pylist(
            [{name: row.get(name) for name in READ_ROW_SCHEMA.names}], schema=READ_ROW_SCHEMA
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError) as exc:
        return str(exc)[:500]
    return None


def firehose_error_document(raw: bytes, message: str, now: datetime) -> bytes:
    """One line of Firehose's format-conversion error output for one row."""
    millis = epoch_millis(now)
    return orjson.dumps(
        {
            "attemptsMade": 1,
            "arrivalTimestamp": millis,
            "ErrorCode": "DataFormatConversion.ParseError",
            "ErrorMessage": message,
            "attemptEndingTimestamp": millis,
            "rawData": base64.b64encode(raw).decode("ascii"),
            "dataCatalogTable": {"tableName": GLUE_READS_TABLE},
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )


@dataclass
class _Staged:
    rows: list[bytes] = field(default_factory=list)


class RowJournal:
    """Append-only journal of committed batches: one line per commit, `{"shard", "seq", "rows"}`,
    rows as the JSON archive sent. `current.jsonl` takes appends; a flush renames it to
    `segment-<n>.jsonl`, writes its rows and removes it. Archive's position in each shard is the
    last committed in the journal (or, once flushed, in `positions.json`)."""

    CURRENT = "current.jsonl"
    POSITIONS = "positions.json"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._positions: dict[str, str] = {}
        self._rows_in_current = 0
        self._fd: int | None = None
        self._segment = 0

    # --- reading (start) -------------------------------------------------------------------------

    def load(self) -> list[Path]:
        """Positions from the files on disk; returns the segments still to flush, oldest first (the
        current file of a crashed run is rotated into one)."""
        try:
            self._positions = orjson.loads((self.directory / self.POSITIONS).read_bytes())
        except FileNotFoundError:
            self._positions = {}
        current = self.directory / self.CURRENT
        segments = self.segments()
        self._segment = max((self._number(s) for s in segments), default=0)
        if current.exists() and current.stat().st_size:
            segments.append(self._rotate_locked())
        for segment in segments:
            for shard, seq, _ in self.entries(segment):
                self._advance(shard, seq)
        return segments

    def entries(self, segment: Path) -> list[tuple[str, str, list[bytes]]]:
        """The committed entries of a segment; a last line cut short by a crash is left out (its
        batch was never acknowledged, so it is delivered again)."""
        entries: list[tuple[str, str, list[bytes]]] = []
        with segment.open("rb") as lines:
            for line in lines:
                if not line.endswith(b"\n"):
                    log.warning("%s: a commit cut short by a crash is left out", segment.name)
                    break
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    log.warning("%s: an unreadable commit is left out", segment.name)
                    break
                entries.append((entry["shard"], entry["seq"], [orjson.dumps(r) for r in entry["rows"]]))
        return entries

    def position(self, shard_id: str) -> str | None:
        with self._lock:
            return self._positions.get(shard_id)

    # --- writing ---------------------------------------------------------------------------------

    def append(self, shard_id: str, sequence_number: str, rows: Sequence[bytes]) -> int:
        """One commit, written in one append; returns the rows now waiting in the current file."""
        line = (
            b'{"shard":' + orjson.dumps(shard_id) + b',"seq":' + orjson.dumps(sequence_number) + b',"rows":['
        )
        line += b",".join(row.rstrip(b"\n") for row in rows) + b"]}\n"
        with self._lock:
            if self._fd is None:
                self._fd = os.open(
                    self.directory / self.CURRENT, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
                )
            view = memoryview(line)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            self._advance(shard_id, sequence_number)
            self._rows_in_current += len(rows)
            return self._rows_in_current

    def rotate(self) -> Path | None:
        """The current file becomes a segment to flush (None when it holds nothing)."""
        with self._lock:
            current = self.directory / self.CURRENT
            if not current.exists() or not current.stat().st_size:
                return None
            return self._rotate_locked()

    def flushed(self, segment: Path) -> None:
        """`segment`'s rows are stored: keep the positions it carried, drop the segment."""
        with self._lock:
            positions = dict(self._positions)
        write_atomically(self.directory / self.POSITIONS, orjson.dumps(positions))
        segment.unlink(missing_ok=True)
        manifest(segment).unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _rotate_locked(self) -> Path:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._segment += 1
        segment = self.directory / f"segment-{self._segment:09d}.jsonl"
        os.replace(self.directory / self.CURRENT, segment)
        self._rows_in_current = 0
        return segment

    def _advance(self, shard_id: str, sequence_number: str) -> None:
        known = self._positions.get(shard_id)
        if known is None or int(sequence_number) > int(known):
            self._positions[shard_id] = sequence_number

    def segments(self) -> list[Path]:
        """The rotated files still to store, oldest first."""
        return sorted(self.directory.glob("segment-*.jsonl"), key=self._number)

    @staticmethod
    def _number(segment: Path) -> int:
        return int(segment.stem.split("-", 1)[1])


def manifest(segment: Path) -> Path:
    return segment.with_suffix(".keys.json")


class ParquetRowSink:
    """`RowSink` for local mode, and archive's `StreamPositions`: rows are staged per poller thread
    by `put_rows`, journaled with the position by `commit`, and written as Parquet by `flush` (every
    `flush_interval_s` on a thread of its own, and on `close`)."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        *,
        journal_dir: Path,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        max_buffered_rows: int = MAX_BUFFERED_ROWS,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._interval = flush_interval_s
        self._max_rows = max_buffered_rows
        self._monotonic = monotonic
        self._clock = clock
        self.journal = RowJournal(journal_dir)
        self._staged = threading.local()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rows_written = 0
        self.files_written = 0
        self.rows_refused = 0

    # --- RowSink -----------------------------------------------------------------------------------

    def put_rows(self, rows: Sequence[bytes]) -> set[int]:
        """Stages the rows with the calling thread's batch; they are acknowledged (journaled) when
        its position is committed. Returns the indexes of rows that are not rows at all."""
        failed: set[int] = set()
        staged = self._thread_staged()
        for index, raw in enumerate(rows):
            try:
                row = orjson.loads(raw)
                if not isinstance(row, dict) or row_partition(row) is None:
                    raise ValueError("not a row with a partition")
            except ValueError:
                failed.add(index)
                continue
            staged.rows.append(raw)
        return failed

    # --- StreamPositions (archive's) -------------------------------------------------------------

    def position(self, shard_id: str) -> str | None:
        return self.journal.position(shard_id)

    def commit(self, shard_id: str, sequence_number: str) -> None:
        staged = self._thread_staged()
        rows, staged.rows = staged.rows, []
        waiting = self.journal.append(shard_id, sequence_number, rows)
        if waiting >= self._max_rows:
            self.flush()

    def rollback(self) -> None:
        self._thread_staged().rows = []

    # --- flushing --------------------------------------------------------------------------------

    def recover(self) -> int:
        """At start: positions from the journal, and every row a crashed run journaled but did not
        store written now, before the pollers run. Returns how many rows were written."""
        with self._flush_lock:
            return sum(self._store(segment) for segment in self.journal.load())

    def flush(self) -> int:
        """Writes every journaled row (one file per partition); returns how many were written.
        A segment whose objects could not all be stored stays, and is tried again next time."""
        with self._flush_lock:
            self.journal.rotate()
            return sum(self._store(segment) for segment in self.journal.segments())

    def _store(self, segment: Path) -> int:
        rows_by_partition: dict[str, list[tuple[bytes, dict[str, Any]]]] = defaultdict(list)
        for _, _, journaled in self.journal.entries(segment):
            for raw in journaled:
                row = orjson.loads(raw)
                rows_by_partition[str(row_partition(row))].append((raw, row))
        files: dict[str, bytes] = {}
        refused: list[tuple[bytes, str]] = []
        for partition, rows in rows_by_partition.items():
            try:
                files[partition] = parquet_bytes([row for _, row in rows])
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
                # Only now row by row: which rows does the schema refuse?
                good = []
                for raw, row in rows:
                    problem = convertible(row)
                    if problem is None:
                        good.append(row)
                    else:
                        refused.append((raw, problem))
                if good:
                    files[partition] = parquet_bytes(good)
        keys = self._keys_for(segment, sorted(files), bool(refused))
        try:
            for partition, body in files.items():
                self._s3.put_object(
                    Bucket=self._bucket,
                    Key=keys[partition],
                    Body=body,
                    ContentType="application/vnd.apache.parquet",
                )
            if refused:
                now = self._clock()
                self._s3.put_object(
                    Bucket=self._bucket,
                    Key=keys["errors"],
                    Body=b"".join(firehose_error_document(raw, problem, now) for raw, problem in refused),
                    ContentType="application/x-ndjson",
                )
        except Exception:
            log.exception("writing the rows of %s failed; kept for the next flush", segment.name)
            return 0
        self.journal.flushed(segment)
        written = sum(len(rows) for rows in rows_by_partition.values()) - len(refused)
        self.rows_written += written
        self.files_written += len(files)
        self.rows_refused += len(refused)
        if refused:
            log.warning("%d row(s) refused by Parquet conversion, kept in %s", len(refused), keys["errors"])
        return written

    def _keys_for(self, segment: Path, partitions: list[str], errors: bool) -> dict[str, str]:
        """The object keys of a segment's files, chosen once and recorded before any is written, so a
        flush repeated after a crash overwrites the same objects."""
        recorded = manifest(segment)
        try:
            keys: dict[str, str] = orjson.loads(recorded.read_bytes())
        except FileNotFoundError:
            keys = {}
        missing = [d for d in partitions if d not in keys] + (
            ["errors"] if errors and "errors" not in keys else []
        )
        if missing:
            now = self._clock()
            for name in missing:
                keys[name] = (
                    f"{FIREHOSE_ERRORS_PREFIX}{utc_date(now).replace('-', '/')}/local-{uuid.uuid4()}.json"
                    if name == "errors"
                    else parquet_key(name)
                )
            write_atomically(recorded, orjson.dumps(keys))
        return keys

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
        self.journal.close()

    def _thread_staged(self) -> _Staged:
        staged: _Staged | None = getattr(self._staged, "value", None)
        if staged is None:
            staged = _Staged()
            self._staged.value = staged
        return staged


class DirectParquetRows:
    """`RowSink` writing Parquet at once, for `nas replay firehose-errors` against local mode (which
    has no Firehose to re-deliver to): one file per capture date; rows the schema refuses are
    reported failed, not written."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put_rows(self, rows: Sequence[bytes]) -> set[int]:
        failed: set[int] = set()
        by_partition: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for index, raw in enumerate(rows):
            try:
                row = orjson.loads(raw)
                if not isinstance(row, dict) or row_partition(row) is None:
                    raise ValueError("not a row with a partition")
            except ValueError:
                failed.add(index)
                continue
            if convertible(row) is not None:
                failed.add(index)
                continue
            by_partition[str(row_partition(row))].append((index, row))
        for partition, indexed in by_partition.items():
            try:
                self._s3.put_object(
                    Bucket=self._bucket,
                    Key=parquet_key(partition),
                    Body=parquet_bytes([row for _, row in indexed]),
                    ContentType="application/vnd.apache.parquet",
                )
            except Exception:
                log.exception("replayed rows of %s could not be written", partition)
                failed.update(index for index, _ in indexed)
        return failed
