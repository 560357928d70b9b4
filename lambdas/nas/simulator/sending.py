"""Sending the simulator's records: PutRecords in batches within the service limits (entries that
come back with an ErrorCode are re-sent with backoff), and pacing a run at a steady rate."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from nas.batching import backoff_delays
from nas.simulator.reads import KinesisRecord

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_kinesis.type_defs import PutRecordsRequestEntryTypeDef

# Kinesis PutRecords limits (the partition key counts towards the sizes).
MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_BYTES_PER_RECORD = 1024 * 1024
SEND_ATTEMPTS = 5
# Pacing: wake at most 10 times a second, and at least once a second so a run ends on time.
MIN_TICK_S = 0.1
MAX_TICK_S = 1.0


@dataclass(frozen=True, slots=True)
class SendResult:
    sent: int = 0
    failed: int = 0

    def __add__(self, other: SendResult) -> SendResult:
        return SendResult(self.sent + other.sent, self.failed + other.failed)


def batches(records: Iterable[KinesisRecord]) -> Iterator[list[KinesisRecord]]:
    """Consecutive groups of records within the PutRecords count and size limits."""
    batch: list[KinesisRecord] = []
    size = 0
    for record in records:
        if batch and (len(batch) == MAX_RECORDS_PER_CALL or size + record.size > MAX_BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += record.size
    if batch:
        yield batch


class KinesisSender:
    """PutRecords in batches; entries that come back with an ErrorCode (throttling, internal
    failure) are re-sent with backoff up to `max_attempts` times, then counted as failed."""

    def __init__(
        self,
        client: KinesisClient,
        stream: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = SEND_ATTEMPTS,
    ) -> None:
        self._client = client
        self._stream = stream
        self._sleep = sleep
        self._max_attempts = max_attempts

    def send(self, records: Iterable[KinesisRecord]) -> SendResult:
        result = SendResult()
        sendable = []
        for record in records:
            if record.size > MAX_BYTES_PER_RECORD:  # Kinesis would refuse the whole call for it
                result += SendResult(failed=1)
            else:
                sendable.append(record)
        for batch in batches(sendable):
            result += self._send_batch(batch)
        return result

    def _send_batch(self, batch: list[KinesisRecord]) -> SendResult:
        pending = batch
        sent = 0
        delays = backoff_delays(base_s=0.1, cap_s=1.0)
        for attempt in range(1, self._max_attempts + 1):
            entries: list[PutRecordsRequestEntryTypeDef] = [
                {"Data": r.data, "PartitionKey": r.partition_key} for r in pending
            ]
            response = self._client.put_records(StreamName=self._stream, Records=entries)
            # Response entries are in request order, one per record.
            retry = [
                record
                for record, entry in zip(pending, response["Records"], strict=True)
                if entry.get("ErrorCode")
            ]
            sent += len(pending) - len(retry)
            pending = retry
            if not pending:
                break
            if attempt < self._max_attempts:
                self._sleep(next(delays))
        return SendResult(sent=sent, failed=len(pending))


class RecordSource(Protocol):
    def next_record(self) -> KinesisRecord: ...


class RecordSink(Protocol):
    def send(self, records: Iterable[KinesisRecord]) -> SendResult: ...


@dataclass(frozen=True, slots=True)
class RunResult:
    sent: int
    failed: int
    elapsed_s: float
    interrupted: bool = False

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


def run_paced(
    source: RecordSource,
    sink: RecordSink,
    *,
    rate: float,
    duration_s: float,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Sends round(rate * duration_s) records in equal slices, one slice per tick, sleeping until
    each next tick. A slow tick is caught up by the next (the slices are cumulative targets)."""
    if rate <= 0 or duration_s <= 0:
        raise ValueError("rate and duration must be positive")
    total = round(rate * duration_s)
    tick_s = min(MAX_TICK_S, max(MIN_TICK_S, 1.0 / rate))
    ticks = max(1, math.ceil(duration_s / tick_s))
    start = monotonic()
    produced = 0
    result = SendResult()
    interrupted = False
    try:
        for tick in range(1, ticks + 1):
            due = round(total * tick / ticks)
            records = [source.next_record() for _ in range(due - produced)]
            produced = due
            if records:
                result += sink.send(records)
            remaining = start + min(duration_s, tick * tick_s) - monotonic()
            if remaining > 0:
                sleep(remaining)
    except KeyboardInterrupt:  # Ctrl-C: stop and still report what was sent
        interrupted = True
    return RunResult(result.sent, result.failed, monotonic() - start, interrupted)
