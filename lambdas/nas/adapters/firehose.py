"""Read rows to the Firehose delivery stream that writes Parquet into the reads bucket."""

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


class RowSink(Protocol):
    def put_rows(self, rows: Sequence[bytes]) -> set[int]:
        """Sends encoded rows; returns the indexes (into `rows`) that could not be delivered."""
        ...


def call_batches(rows: Sequence[bytes], indexes: Sequence[int]) -> Iterator[list[int]]:
    """Groups `indexes` into PutRecordBatch calls of at most 500 records and 4 MiB."""
    batch: list[int] = []
    size = 0
    for index in indexes:
        length = len(rows[index])
        if batch and (len(batch) == MAX_RECORDS_PER_CALL or size + length > MAX_BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(index)
        size += length
    if batch:
        yield batch


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
        pending = list(range(len(rows)))
        delays = backoff_delays()
        for attempt in range(MAX_ATTEMPTS):
            failed: list[int] = []
            for batch in call_batches(rows, pending):
                response = self._client.put_record_batch(
                    DeliveryStreamName=self._stream, Records=[{"Data": rows[i]} for i in batch]
                )
                if response.get("FailedPutCount"):
                    results = response["RequestResponses"]
                    failed += [i for i, r in zip(batch, results, strict=True) if r.get("ErrorCode")]
            pending = failed
            if not pending:
                return set()
            if attempt + 1 < MAX_ATTEMPTS:
                self._sleep(next(delays))
        return set(pending)
