"""Stand-ins for the Kinesis event source mappings: one thread per shard per consumer, each keeping
its own position (two mappings on one stream), delivering Lambda-shaped events to the handler and
honouring partial batch responses by re-reading from the lowest failed sequence number."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pybase64

log = logging.getLogger(__name__)

MAX_BATCH = 500
IDLE_SLEEP_S = 0.05
MAX_ATTEMPTS = 3  # per batch start, then the failed records are discarded (as a bounded-retry mapping)
ACCOUNT_ID = "123456789012"

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class LocalLambdaContext:
    """The attributes of the Lambda context object that powertools reads."""

    function_name: str
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "local"
    log_group_name: str = ""
    log_stream_name: str = "local"
    invoked_function_arn: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def stream_arn(region: str, stream: str) -> str:
    return f"arn:aws:kinesis:{region}:{ACCOUNT_ID}:stream/{stream}"


def lambda_event(
    records: Sequence[Mapping[str, Any]], *, shard_id: str, source_arn: str, region: str, role_arn: str
) -> dict[str, Any]:
    """A Kinesis event as an event source mapping delivers it, from GetRecords' records. `Data` is
    bytes (botocore) or the base64 text of the response (`stream_reader`), passed through as is."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": _base64(r["Data"]),
                    "approximateArrivalTimestamp": _epoch_seconds(r["ApproximateArrivalTimestamp"]),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard_id}:{r['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": role_arn,
                "awsRegion": region,
                "eventSourceARN": source_arn,
            }
            for r in records
        ]
    }


def _base64(data: bytes | str) -> str:
    return data if isinstance(data, str) else pybase64.b64encode(data).decode("ascii")


def _epoch_seconds(value: datetime | float) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def lowest_failure(response: Any) -> str | None:
    """The lowest failed sequence number of a partial batch response, or None if all succeeded."""
    failures = response.get("batchItemFailures") if isinstance(response, Mapping) else None
    if not failures:
        return None
    return min((str(f["itemIdentifier"]) for f in failures), key=int)


@dataclass(slots=True)
class ConsumerStats:
    """Counters of one consumer over all its shards (updated under `lock`)."""

    processed: int = 0
    """Records delivered and acknowledged (or discarded after the retry limit)."""
    batches: int = 0
    retried: int = 0
    discarded: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {
                "processed": self.processed,
                "batches": self.batches,
                "retried": self.retried,
                "discarded": self.discarded,
                "errors": self.errors,
            }


@dataclass(frozen=True, slots=True)
class Consumer:
    name: str
    handler: Handler
    # Like an event source mapping's batching window: after a batch smaller than the maximum, wait
    # this long before the next GetRecords, so records gather into fewer, larger invocations.
    batch_window_s: float = 0.0
    stats: ConsumerStats = field(default_factory=ConsumerStats)


class ShardPoller(threading.Thread):
    """GetRecords on one shard for one consumer until stopped."""

    def __init__(
        self,
        kinesis: Any,
        *,
        stream: str,
        shard_id: str,
        consumer: Consumer,
        region: str,
        start_at: str = "TRIM_HORIZON",
        stop: threading.Event,
        idle_sleep_s: float = IDLE_SLEEP_S,
        batch_size: int = MAX_BATCH,
    ) -> None:
        super().__init__(name=f"poll-{consumer.name}-{shard_id}", daemon=True)
        self._kinesis = kinesis
        self._stream = stream
        self._shard_id = shard_id
        self._consumer = consumer
        self._region = region
        self._start_at = start_at
        self._stop_event = stop
        self._idle_sleep_s = idle_sleep_s
        self._batch_size = batch_size
        self._source_arn = stream_arn(region, stream)
        self._role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/nas-local-{consumer.name}"
        self._context = LocalLambdaContext(function_name=f"nas-local-{consumer.name}")

    def _iterator(self, kind: str, sequence: str | None = None) -> str:
        options: dict[str, str] = {"StreamName": self._stream, "ShardId": self._shard_id}
        options["ShardIteratorType"] = kind
        if sequence is not None:
            options["StartingSequenceNumber"] = sequence
        iterator: str = self._kinesis.get_shard_iterator(**options)["ShardIterator"]
        return iterator

    def run(self) -> None:
        stats = self._consumer.stats
        iterator = self._iterator(self._start_at)
        failed_at: str | None = None  # where the last failed delivery asked to re-read from
        attempt = 0
        while not self._stop_event.is_set():
            try:
                response = self._kinesis.get_records(ShardIterator=iterator, Limit=self._batch_size)
            except Exception:  # endpoint gone (shutdown) or transient: back off and retry
                if self._stop_event.is_set():
                    return
                log.exception("GetRecords failed on %s", self._shard_id)
                stats.add(errors=1)
                self._stop_event.wait(1.0)
                continue
            records = response["Records"]
            next_iterator = response.get("NextShardIterator")
            if not records:
                if next_iterator is None:  # shard closed
                    return
                iterator = next_iterator
                self._stop_event.wait(self._idle_sleep_s)
                continue
            retry_from = self._deliver(records)
            if retry_from is None:
                failed_at, attempt = None, 0
                stats.add(processed=len(records), batches=1)
                iterator = next_iterator or iterator
                if len(records) < self._batch_size and self._consumer.batch_window_s:
                    self._stop_event.wait(self._consumer.batch_window_s)
                continue
            done = sum(int(r["SequenceNumber"]) < int(retry_from) for r in records)
            attempt = attempt + 1 if retry_from == failed_at else 1
            failed_at = retry_from
            if attempt >= MAX_ATTEMPTS:
                # Bounded retries, as a mapping with MaximumRetryAttempts: give up on the batch from
                # the failed record on (in AWS its on-failure destination keeps a note of it).
                log.error(
                    "%s: discarding %d record(s) from %s",
                    self._consumer.name,
                    len(records) - done,
                    retry_from,
                )
                stats.add(processed=len(records), batches=1, discarded=len(records) - done)
                failed_at, attempt = None, 0
                iterator = next_iterator or iterator
                continue
            stats.add(processed=done, batches=1, retried=len(records) - done)
            self._stop_event.wait(min(2.0, 0.1 * 2**attempt))
            iterator = self._iterator("AT_SEQUENCE_NUMBER", retry_from)

    def _deliver(self, records: Sequence[Mapping[str, Any]]) -> str | None:
        """Invokes the handler; the sequence number to re-read from, or None when all succeeded."""
        event = lambda_event(
            records,
            shard_id=self._shard_id,
            source_arn=self._source_arn,
            region=self._region,
            role_arn=self._role_arn,
        )
        started = time.monotonic()
        try:
            response = self._consumer.handler(event, self._context)
        except Exception:  # a function error: Lambda retries the whole batch
            log.exception(
                "%s failed on a batch of %d from %s", self._consumer.name, len(records), self._shard_id
            )
            self._consumer.stats.add(errors=1)
            return str(records[0]["SequenceNumber"])
        log.debug("%s: %d record(s) in %.3f s", self._consumer.name, len(records), time.monotonic() - started)
        return lowest_failure(response)


def start_pollers(
    kinesis: Any,
    *,
    stream: str,
    consumers: Sequence[Consumer],
    region: str,
    stop: threading.Event,
    start_at: str = "TRIM_HORIZON",
) -> list[ShardPoller]:
    shards = [s["ShardId"] for s in kinesis.list_shards(StreamName=stream)["Shards"]]
    pollers = [
        ShardPoller(
            kinesis,
            stream=stream,
            shard_id=shard,
            consumer=consumer,
            region=region,
            start_at=start_at,
            stop=stop,
        )
        for consumer in consumers
        for shard in shards
    ]
    for poller in pollers:
        poller.start()
    return pollers
