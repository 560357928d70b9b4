"""Stand-ins for the Kinesis event source mappings: one thread per shard per consumer, each keeping
its own position (two mappings on one stream), delivering Lambda-shaped events to the handler.

As a mapping with partial batch responses, bisection and an on-failure destination: a partial
failure is retried from its lowest failed sequence number; a batch whose function fails is retried
once, then halved, and halved again, so one bad record never holds the others back; what still fails
after `MAX_ATTEMPTS` is set aside as an on-failure record (Lambda's own format, which `nas replay
failures` reads) and the poller moves on. Positions are committed only once a batch is done, so a
crashed run resumes where it stopped (`checkpoints.py`); records the stream trimmed before they were
read are counted and logged, never skipped in silence.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import pybase64

from nas.domain.replay import on_failure_record
from nas.local.checkpoints import FilePositions, StreamPositions
from nas.local.logs import log_as

log = logging.getLogger(__name__)

MAX_BATCH = 500
IDLE_SLEEP_S = 0.05
# Attempts for a batch (or, once halved down to one record, for that record) before it is set aside.
MAX_ATTEMPTS = 4
# A failing batch is tried this many times as a whole before it is halved (a passing fault, such as
# a store timing out, clears without splitting the batch into hundreds of single records).
WHOLE_BATCH_ATTEMPTS = 2
MAX_BACKOFF_S = 2.0
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


def function_arn(region: str, function_name: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"


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


def _arrival(record: Mapping[str, Any]) -> datetime:
    value = record["ApproximateArrivalTimestamp"]
    return value if isinstance(value, datetime) else datetime.fromtimestamp(float(value), UTC)


def lowest_failure(response: Any) -> str | None:
    """The lowest failed sequence number of a partial batch response, or None if all succeeded."""
    failures = response.get("batchItemFailures") if isinstance(response, Mapping) else None
    if not failures:
        return None
    return min((str(f["itemIdentifier"]) for f in failures), key=int)


class FailureDestination(Protocol):
    """Where records set aside go (the mapping's on-failure destination)."""

    def send(self, record: bytes) -> None: ...


class QueueDestination:
    """An SQS queue (local mode's on-failure queue in moto)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def send(self, record: bytes) -> None:
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=record.decode("utf-8"))


@dataclass(slots=True)
class ConsumerStats:
    """Counters of one consumer over all its shards (updated under `lock`)."""

    processed: int = 0
    """Records delivered and done, or set aside."""
    batches: int = 0
    retried: int = 0
    bisected: int = 0
    set_aside: int = 0
    errors: int = 0
    trimmed: int = 0
    """Records the stream no longer held when this consumer came to read them."""
    behind_ms: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def behind(self, shard_id: str, millis: int) -> None:
        with self.lock:
            self.behind_ms[shard_id] = millis

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {
                "processed": self.processed,
                "batches": self.batches,
                "retried": self.retried,
                "bisected": self.bisected,
                "set_aside": self.set_aside,
                "errors": self.errors,
                "trimmed": self.trimmed,
                "behind_ms": max(self.behind_ms.values(), default=0),
            }


@dataclass(frozen=True, slots=True)
class Consumer:
    name: str
    handler: Handler
    # Like an event source mapping's batching window: after a batch smaller than the maximum, wait
    # this long before the next GetRecords, so records gather into fewer, larger invocations.
    batch_window_s: float = 0.0
    stats: ConsumerStats = field(default_factory=ConsumerStats)
    positions: StreamPositions | None = None
    """Where this consumer is in each shard; None keeps no positions (tests, throwaway runs)."""
    service: str = ""
    """The function's powertools service name (its log lines' `service`), as in AWS."""

    @property
    def function_name(self) -> str:
        return f"nas-local-{self.name}"


class _NoPositions:
    def position(self, shard_id: str) -> str | None:
        return None

    def commit(self, shard_id: str, sequence_number: str) -> None:
        return None

    def rollback(self) -> None:
        return None


class _FunctionError:
    """The handler raised: Lambda counts a function error for the whole batch."""


FUNCTION_ERROR = _FunctionError()


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
        failures: FailureDestination | None = None,
        idle_sleep_s: float = IDLE_SLEEP_S,
        batch_size: int = MAX_BATCH,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(name=f"poll-{consumer.name}-{shard_id}", daemon=True)
        self._kinesis = kinesis
        self._stream = stream
        self._shard_id = shard_id
        self._consumer = consumer
        self._positions: StreamPositions = consumer.positions or _NoPositions()
        self._region = region
        self._start_at = start_at
        self._stop_event = stop
        self._failures = failures
        self._idle_sleep_s = idle_sleep_s
        self._batch_size = batch_size
        self._clock = clock
        self._source_arn = stream_arn(region, stream)
        self._role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/nas-local-{consumer.name}"
        self._context = LocalLambdaContext(function_name=consumer.function_name)
        self._last_seen: int | None = None

    def _iterator(self, kind: str, sequence: str | None = None) -> str:
        options: dict[str, str] = {"StreamName": self._stream, "ShardId": self._shard_id}
        options["ShardIteratorType"] = kind
        if sequence is not None:
            options["StartingSequenceNumber"] = sequence
        iterator: str = self._kinesis.get_shard_iterator(**options)["ShardIterator"]
        return iterator

    def _first_iterator(self) -> str:
        """After the committed position when there is one (a resumed run), else `start_at`."""
        position = self._positions.position(self._shard_id)
        if position is not None:
            self._last_seen = int(position)
            return self._iterator("AFTER_SEQUENCE_NUMBER", position)
        return self._iterator(self._start_at)

    def run(self) -> None:
        log_as(function_name=self._consumer.function_name, service=self._consumer.service)
        stats = self._consumer.stats
        iterator: str | None = None
        while not self._stop_event.is_set():
            try:
                iterator = iterator or self._first_iterator()
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
            stats.behind(self._shard_id, int(response.get("MillisBehindLatest") or 0))
            if not records:
                if next_iterator is None:  # shard closed
                    return
                iterator = next_iterator
                self._stop_event.wait(self._idle_sleep_s)
                continue
            self._notice_trimmed(records)
            if not self._handle(records):
                return  # stopping: the batch is read again from the committed position next time
            stats.add(batches=1)
            iterator = next_iterator or iterator
            if len(records) < self._batch_size and self._consumer.batch_window_s:
                self._stop_event.wait(self._consumer.batch_window_s)

    def _notice_trimmed(self, records: Sequence[Mapping[str, Any]]) -> None:
        first = int(records[0]["SequenceNumber"])
        if self._last_seen is not None and first > self._last_seen + 1:
            missing = first - self._last_seen - 1
            self._consumer.stats.add(trimmed=missing)
            log.error(
                "%s: %d record(s) of %s were trimmed from the stream before they were read (%d to %d)",
                self._consumer.name,
                missing,
                self._shard_id,
                self._last_seen + 1,
                first - 1,
            )
        self._last_seen = int(records[-1]["SequenceNumber"])

    def _handle(self, records: Sequence[Mapping[str, Any]]) -> bool:
        """Delivers `records` until each is done or set aside; False when stopped before that."""
        stats = self._consumer.stats
        pending = list(records)
        attempts = 0
        while not self._stop_event.is_set():
            outcome = self._deliver(pending)
            if outcome is None:
                self._positions.commit(self._shard_id, str(pending[-1]["SequenceNumber"]))
                stats.add(processed=len(pending))
                return True
            attempts += 1
            if isinstance(outcome, _FunctionError):
                self._positions.rollback()
                if len(pending) > 1 and attempts >= WHOLE_BATCH_ATTEMPTS:
                    stats.add(bisected=1)
                    half = len(pending) // 2
                    return self._handle(pending[:half]) and self._handle(pending[half:])
            else:
                done = [r for r in pending if int(r["SequenceNumber"]) < int(outcome)]
                if done:  # as a mapping does: what came before the first failure is done
                    self._positions.commit(self._shard_id, str(done[-1]["SequenceNumber"]))
                    stats.add(processed=len(done))
                pending = pending[len(done) :]
            if attempts >= MAX_ATTEMPTS:
                self._positions.rollback()
                return self._set_aside(pending, attempts)
            stats.add(retried=len(pending))
            self._stop_event.wait(min(MAX_BACKOFF_S, 0.1 * 2**attempts))
        self._positions.rollback()
        return False

    def _set_aside(self, records: Sequence[Mapping[str, Any]], attempts: int) -> bool:
        """An on-failure record for the range, then past it (R-QUARANTINE: the range can be replayed
        from the stream, which keeps it 24 hours locally). The record must be written before the
        position moves: until the queue takes it, the poller keeps trying."""
        first, last = records[0], records[-1]
        record = on_failure_record(
            function_arn=function_arn(self._region, self._consumer.function_name),
            stream_arn=self._source_arn,
            shard_id=self._shard_id,
            first=(str(first["SequenceNumber"]), _arrival(first)),
            last=(str(last["SequenceNumber"]), _arrival(last)),
            batch_size=len(records),
            attempts=attempts,
            condition="RetryAttemptsExhausted",
            now=self._clock(),
        )
        while self._failures is not None:
            try:
                self._failures.send(record)
                break
            except Exception:
                log.exception(
                    "%s: the on-failure record could not be sent; trying again", self._consumer.name
                )
                if self._stop_event.wait(1.0):
                    return False
        log.error(
            "%s: set aside %d record(s) of %s (%s to %s) after %d attempts",
            self._consumer.name,
            len(records),
            self._shard_id,
            first["SequenceNumber"],
            last["SequenceNumber"],
            attempts,
        )
        self._positions.commit(self._shard_id, str(last["SequenceNumber"]))
        self._consumer.stats.add(processed=len(records), set_aside=len(records))
        return True

    def _deliver(self, records: Sequence[Mapping[str, Any]]) -> str | _FunctionError | None:
        """Invokes the handler: None when all succeeded, the sequence number of the first failure,
        or FUNCTION_ERROR when it raised."""
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
        except Exception:  # a function error: Lambda retries (and halves) the whole batch
            log.exception(
                "%s failed on a batch of %d from %s", self._consumer.name, len(records), self._shard_id
            )
            self._consumer.stats.add(errors=1)
            return FUNCTION_ERROR
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
    failures: FailureDestination | None = None,
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
            failures=failures,
        )
        for consumer in consumers
        for shard in shards
    ]
    for poller in pollers:
        poller.start()
    return pollers


__all__ = [
    "ACCOUNT_ID",
    "Consumer",
    "ConsumerStats",
    "FailureDestination",
    "FilePositions",
    "LocalLambdaContext",
    "QueueDestination",
    "ShardPoller",
    "lambda_event",
    "lowest_failure",
    "start_pollers",
]
