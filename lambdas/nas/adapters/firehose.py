"""Read rows to the Firehose delivery stream that writes Parquet into the reads bucket.

Rows travel many to a Firehose record (newline-separated JSON, up to 500 rows and 1,000 KiB), which
the stream's multi-record deaggregation splits again: Direct PUT counts records a second against a
quota (in London as low as 1,000 a second per MiB/s of throughput), rows would exceed it at the
national rate, and a batch's rows as one record cost one record (docs/capacity.md)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from nas.batching import backoff_delays

if TYPE_CHECKING:
    from mypy_boto3_firehose import FirehoseClient

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 4 * 1024 * 1024
MAX_ATTEMPTS = 5
# Multi-record deaggregation splits at most 500 rows out of a record; a record holds 1,000 KiB.
MAX_ROWS_PER_RECORD = 500
MAX_BYTES_PER_RECORD = 1000 * 1024


class RowSink(Protocol):
    def put_rows(self, rows: Sequence[bytes]) -> set[int]:
        """Sends encoded rows; returns the indexes (into `rows`) that could not be delivered."""
        ...


def _groups(
    sizes: Sequence[int], indexes: Sequence[int], max_count: int, max_bytes: int
) -> Iterator[list[int]]:
    batch: list[int] = []
    size = 0
    for index in indexes:
        length = sizes[index]
        if batch and (len(batch) == max_count or size + length > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(index)
        size += length
    if batch:
        yield batch


def call_batches(records: Sequence[bytes], indexes: Sequence[int]) -> Iterator[list[int]]:
    """Groups `indexes` into PutRecordBatch calls of at most 500 records and 4 MiB."""
    return _groups([len(r) for r in records], indexes, MAX_RECORDS_PER_CALL, MAX_BYTES_PER_CALL)


def row_records(rows: Sequence[bytes]) -> list[list[int]]:
    """The rows (each one line of JSON) grouped into Firehose records of at most 500 rows and
    1,000 KiB, in order: the row indexes of each record."""
    sizes = [len(row) + (not row.endswith(b"\n")) for row in rows]
    return list(_groups(sizes, range(len(rows)), MAX_ROWS_PER_RECORD, MAX_BYTES_PER_RECORD))


def record_data(rows: Sequence[bytes], indexes: Sequence[int]) -> bytes:
    return b"".join(rows[i] if rows[i].endswith(b"\n") else rows[i] + b"\n" for i in indexes)


class InMemoryRowSink:
    def __init__(self) -> None:
        self.rows: list[bytes] = []

    def put_rows(self, rows: Sequence[bytes]) -> set[int]:
        self.rows.extend(rows)
        return set()


class FirehoseRowSink:
    def __init__(
        self, client: FirehoseClient, delivery_stream: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self._stream = delivery_stream
        self._sleep = sleep

    def put_rows(self, rows: Sequence[bytes]) -> set[int]:
        """Rows of a record that still fails after the retries are all reported: none of them went in."""
        grouped = row_records(rows)
        records = [record_data(rows, group) for group in grouped]
        pending = list(range(len(records)))
        delays = backoff_delays()
        for attempt in range(MAX_ATTEMPTS):
            failed: list[int] = []
            for batch in call_batches(records, pending):
                response = self._client.put_record_batch(
                    DeliveryStreamName=self._stream, Records=[{"Data": records[i]} for i in batch]
                )
                if response.get("FailedPutCount"):
                    results = response["RequestResponses"]
                    failed += [i for i, r in zip(batch, results, strict=True) if r.get("ErrorCode")]
            pending = failed
            if not pending:
                return set()
            if attempt + 1 < MAX_ATTEMPTS:
                self._sleep(next(delays))
        return {row for record in pending for row in grouped[record]}
