"""Sending the simulator's records: PutRecords in batches within the service limits (entries that
come back with an ErrorCode are re-sent with backoff), and pacing a run at a steady rate."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from nas.adapters.stream import PUT_ATTEMPTS, KinesisStream, OutgoingRecord
from nas.simulator.reads import KinesisRecord

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient

SEND_ATTEMPTS = PUT_ATTEMPTS
# Pacing: wake at most 10 times a second, and at least once a second so a run ends on time.
MIN_TICK_S = 0.1
MAX_TICK_S = 1.0


@dataclass(frozen=True, slots=True)
class SendResult:
    sent: int = 0
    failed: int = 0

    def __add__(self, other: SendResult) -> SendResult:
        return SendResult(self.sent + other.sent, self.failed + other.failed)


class KinesisSender:
    """PutRecords in batches within the service limits; entries that come back with an ErrorCode
    (throttling, internal failure) are re-sent with backoff up to `max_attempts` times, then counted
    as failed (`nas.adapters.stream.KinesisStream`, which `nas replay` sends with too)."""

    def __init__(
        self,
        client: KinesisClient,
        stream: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = SEND_ATTEMPTS,
    ) -> None:
        self._stream = KinesisStream(client, stream, sleep=sleep, max_attempts=max_attempts)

    def send(self, records: Iterable[KinesisRecord]) -> SendResult:
        put = self._stream.put([OutgoingRecord(r.partition_key, r.data) for r in records])
        return SendResult(sent=put.sent, failed=put.failed)


# --- pacing ---------------------------------------------------------------------------------------


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
