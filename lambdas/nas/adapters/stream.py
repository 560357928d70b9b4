"""The reads stream as a producer and a replayer see it: PutRecords within the service's limits,
re-sending entries that come back with an ErrorCode; and a shard's records between two sequence
numbers, read again for `nas replay`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nas.adapters import store_call
from nas.batching import backoff_delays

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient

# Kinesis PutRecords limits (the partition key counts towards the sizes).
MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_BYTES_PER_RECORD = 1024 * 1024
PUT_ATTEMPTS = 5
GET_RECORDS_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    partition_key: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Put:
    sent: int = 0
    failed: int = 0

    def __add__(self, other: Put) -> Put:
        return Put(self.sent + other.sent, self.failed + other.failed)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    sequence_number: str
    partition_key: str
    data: bytes
    arrived_at: datetime


def put_batches(records: Sequence[OutgoingRecord]) -> Iterator[list[OutgoingRecord]]:
    """Consecutive groups of records within the PutRecords count and size limits."""
    batch: list[OutgoingRecord] = []
    size = 0
    for record in records:
        if batch and (len(batch) == MAX_RECORDS_PER_CALL or size + record.size > MAX_BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += record.size
    if batch:
        yield batch


class KinesisStream:
    def __init__(
        self,
        client: KinesisClient,
        stream: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = PUT_ATTEMPTS,
    ) -> None:
        self._client = client
        self._stream = stream
        self._sleep = sleep
        self._max_attempts = max_attempts

    @property
    def name(self) -> str:
        return self._stream

    def put(self, records: Sequence[OutgoingRecord]) -> Put:
        """Every record sent or counted as failed (a record over 1 MiB would fail the whole call,
        so it is counted at once); a call the stream refuses outright raises StoreError."""
        result = Put(failed=sum(r.size > MAX_BYTES_PER_RECORD for r in records))
        for batch in put_batches([r for r in records if r.size <= MAX_BYTES_PER_RECORD]):
            result += self._put_batch(batch)
        return result

    def _put_batch(self, batch: list[OutgoingRecord]) -> Put:
        pending = batch
        sent = 0
        delays = backoff_delays(base_s=0.1, cap_s=1.0)
        for attempt in range(1, self._max_attempts + 1):
            entries: list[Any] = [{"Data": r.data, "PartitionKey": r.partition_key} for r in pending]
            with store_call(f"kinesis PutRecords {self._stream}"):
                response = self._client.put_records(StreamName=self._stream, Records=entries)
            # Response entries are in request order, one per record.
            retry = [
                r for r, entry in zip(pending, response["Records"], strict=True) if entry.get("ErrorCode")
            ]
            sent += len(pending) - len(retry)
            pending = retry
            if not pending:
                break
            if attempt < self._max_attempts:
                self._sleep(next(delays))
        return Put(sent=sent, failed=len(pending))

    def read_range(self, shard_id: str, first: str, last: str) -> list[StoredRecord]:
        """The shard's records from `first` to `last` (sequence numbers, inclusive) the stream still
        holds; the caller compares with what it expected (the stream trims after its retention)."""
        records: list[StoredRecord] = []
        with store_call(f"kinesis GetShardIterator {shard_id}"):
            iterator: str | None = self._client.get_shard_iterator(
                StreamName=self._stream,
                ShardId=shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber=first,
            )["ShardIterator"]
        while iterator:
            with store_call(f"kinesis GetRecords {shard_id}"):
                response = self._client.get_records(ShardIterator=iterator, Limit=GET_RECORDS_LIMIT)
            for item in response["Records"]:
                if int(item["SequenceNumber"]) > int(last):
                    return records
                records.append(
                    StoredRecord(
                        sequence_number=item["SequenceNumber"],
                        partition_key=item["PartitionKey"],
                        data=item["Data"],
                        arrived_at=item["ApproximateArrivalTimestamp"],
                    )
                )
            if not response["Records"] and not response.get("MillisBehindLatest"):
                return records  # at the tip: nothing more to come in the range
            iterator = response.get("NextShardIterator")
        return records
