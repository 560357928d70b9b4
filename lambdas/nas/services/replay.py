"""`nas replay` (R-QUARANTINE: whatever was set aside can come back after a fix), three ways:

- `failures`: each stream range in the consumers' on-failure queue is read again from the stream
  (it keeps 7 days in AWS, 24 hours locally) and its records put back into it, byte for byte with
  their partition keys, so both consumers see them again; the message is deleted once they are in.
- `quarantine`: records of quarantine documents (all, by reason, by the day they were quarantined)
  are put back into the stream; a mark beside each document lists what was re-sent.
- `firehose_errors`: rows Firehose could not convert are delivered to the read-rows sink again; a
  mark beside each error object says it was.

Every path is idempotent (R-DUP): a range is re-sent until its message is deleted, a record or an
error object once it is marked, and what the consumers see twice raises no second alert (the alert
id is deterministic) and is returned once by searches. The only copies left are stored rows of a
range that one consumer had stored before the other set it aside, and those searches de-duplicate.
Re-sent records arrive anew, so R-LATE judges them at their new arrival: a read more than 24 hours
old by then is stored and raises no alert.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

import orjson

from nas.adapters import StoreError
from nas.adapters.firehose import RowSink
from nas.adapters.objects import ObjectArchive
from nas.adapters.queues import FailureQueue
from nas.adapters.stream import OutgoingRecord, Put, StoredRecord
from nas.catalogue import QUARANTINE_PREFIX
from nas.domain.replay import (
    QuarantineSelection,
    ReplayInputError,
    SetAsideRange,
    firehose_error_rows,
    quarantine_day,
    quarantined_records,
)
from nas.domain.timefmt import iso_utc

FIREHOSE_ERRORS_PREFIX = "firehose-errors/"
# Marks of what was replayed, beside what they mark (same bucket, same retention rule).
REPLAYED_PREFIX = "replayed/"
MAX_MESSAGES = 1000


class ReplayStream(Protocol):
    @property
    def name(self) -> str: ...

    def put(self, records: Sequence[OutgoingRecord]) -> Put: ...

    def read_range(self, shard_id: str, first: str, last: str) -> list[StoredRecord]: ...


@dataclass(slots=True)
class ReplayReport:
    examined: int = 0
    """Queue messages, quarantined records or error objects looked at."""
    resent: int = 0
    """Records put back into the stream, or rows delivered again."""
    skipped: int = 0
    """Already replayed (marked), or not selected."""
    failed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"examined={self.examined} resent={self.resent} skipped={self.skipped} failed={self.failed}"
        if self.reasons:
            text += " " + " ".join(f"{reason}={n}" for reason, n in sorted(self.reasons.items()))
        return text


class ReplayService:
    def __init__(
        self,
        *,
        objects: ObjectArchive,
        clock: Callable[[], datetime],
        stream: ReplayStream | None = None,
        queue: FailureQueue | None = None,
        rows: RowSink | None = None,
        quarantine_bucket: str | None = None,
        reads_bucket: str | None = None,
    ) -> None:
        self._stream_or_none = stream
        self._objects = objects
        self._clock = clock
        self._queue = queue
        self._rows = rows
        self._quarantine_bucket = quarantine_bucket
        self._reads_bucket = reads_bucket

    # --- the on-failure queue --------------------------------------------------------------------

    def failures(self, *, max_messages: int = MAX_MESSAGES) -> ReplayReport:
        if self._queue is None:
            raise ValueError("no on-failure queue to replay from")
        report = ReplayReport()
        while report.examined < max_messages:
            messages = self._queue.receive(max_messages - report.examined)
            if not messages:
                break
            for message in messages:
                report.examined += 1
                try:
                    aside = SetAsideRange.parse(message.body)
                except ReplayInputError as exc:
                    report.failed += 1
                    report.problems.append(f"message left in the queue: {exc}")
                    continue
                if self._replay_range(aside, report):
                    self._queue.delete(message)
        return report

    def _replay_range(self, aside: SetAsideRange, report: ReplayReport) -> bool:
        where = f"{aside.shard_id} {aside.first_sequence_number}-{aside.last_sequence_number}"
        if aside.stream_name != self._stream.name:
            report.failed += 1
            report.problems.append(f"{where}: from stream {aside.stream_name}, not {self._stream.name}; left")
            return False
        try:
            records = self._stream.read_range(
                aside.shard_id, aside.first_sequence_number, aside.last_sequence_number
            )
        except StoreError as exc:
            report.failed += 1
            report.problems.append(f"{where}: cannot be read from the stream ({exc}); left in the queue")
            return False
        if not records or records[0].sequence_number != aside.first_sequence_number:
            report.failed += 1
            report.problems.append(
                f"{where}: the stream no longer holds its start (trimmed after its retention); left in the"
                " queue for a person to look at"
            )
            return False
        put = self._stream.put([OutgoingRecord(r.partition_key, r.data) for r in records])
        report.resent += put.sent
        report.reasons[aside.function_arn.rsplit(":", 1)[-1] or "unknown-function"] += put.sent
        if put.failed:
            report.failed += put.failed
            report.problems.append(
                f"{where}: {put.failed} record(s) not taken by the stream; left in the queue"
            )
            return False
        return True

    # --- quarantine documents --------------------------------------------------------------------

    def quarantine(self, selection: QuarantineSelection) -> ReplayReport:
        bucket = self._require(self._quarantine_bucket, "quarantine bucket")
        report = ReplayReport()
        for key in self._objects.keys(bucket, QUARANTINE_PREFIX):
            day = quarantine_day(key, QUARANTINE_PREFIX)
            if day is None or not selection.takes_day(day):
                continue
            document = self._objects.get(bucket, key)
            if document is None:
                continue
            try:
                records = quarantined_records(document)
            except ReplayInputError as exc:
                report.failed += 1
                report.problems.append(f"{key}: {exc}")
                continue
            done = set(self._marked(bucket, key))
            chosen = []
            for record in records:
                report.examined += 1
                if record.sequence_number in done or not selection.takes(record):
                    report.skipped += 1
                else:
                    chosen.append(record)
            if not chosen:
                continue
            put = self._stream.put([OutgoingRecord(r.partition_key, r.data) for r in chosen])
            report.resent += put.sent
            report.reasons.update(r.reason for r in chosen)
            if put.failed:  # nothing marked: the next replay sends them again (R-DUP keeps it safe)
                report.failed += put.failed
                report.problems.append(f"{key}: {put.failed} record(s) not taken by the stream")
                continue
            self._mark(bucket, key, sorted(done | {r.sequence_number for r in chosen}))
        return report

    # --- Firehose error output -------------------------------------------------------------------

    def firehose_errors(self, *, first_day: date | None = None, last_day: date | None = None) -> ReplayReport:
        bucket = self._require(self._reads_bucket, "reads bucket")
        rows_sink = self._rows
        if rows_sink is None:
            raise ValueError("no read-rows delivery to re-deliver to")
        report = ReplayReport()
        selection = QuarantineSelection(first_day=first_day, last_day=last_day)
        for key in self._objects.keys(bucket, FIREHOSE_ERRORS_PREFIX):
            day = error_object_day(key)
            if day is not None and not selection.takes_day(day):
                continue
            report.examined += 1
            if self._marked(bucket, key):
                report.skipped += 1
                continue
            document = self._objects.get(bucket, key)
            if document is None:
                continue
            rows, unreadable = firehose_error_rows(document)
            if unreadable:
                report.problems.append(f"{key}: {unreadable} line(s) hold no row")
            if not rows:
                report.failed += 1
                continue
            failed = rows_sink.put_rows(rows)
            report.resent += len(rows) - len(failed)
            report.reasons[key.removeprefix(FIREHOSE_ERRORS_PREFIX).split("/", 1)[0]] += len(rows) - len(
                failed
            )
            if failed:
                report.failed += len(failed)
                report.problems.append(f"{key}: {len(failed)} row(s) refused again; left unmarked")
                continue
            self._mark(bucket, key, [str(len(rows))])
        return report

    @property
    def _stream(self) -> ReplayStream:
        if self._stream_or_none is None:
            raise ValueError("no stream to re-send to")
        return self._stream_or_none

    # --- marks -------------------------------------------------------------------------------------

    def _marked(self, bucket: str, key: str) -> list[str]:
        mark = self._objects.get(bucket, f"{REPLAYED_PREFIX}{key}")
        if mark is None:
            return []
        replayed: list[str] = orjson.loads(mark)["replayed"]
        return replayed

    def _mark(self, bucket: str, key: str, replayed: list[str]) -> None:
        body = orjson.dumps({"replayed": replayed, "at": iso_utc(self._clock())})
        self._objects.put(bucket, f"{REPLAYED_PREFIX}{key}", body, "application/json")

    @staticmethod
    def _require(value: str | None, what: str) -> str:
        if not value:
            raise ValueError(f"no {what} to replay from")
        return value


def error_object_day(key: str) -> date | None:
    """The day in a Firehose error key (`firehose-errors/<type>/YYYY/MM/dd/...`)."""
    parts = key.removeprefix(FIREHOSE_ERRORS_PREFIX).split("/")
    try:
        return date(int(parts[1]), int(parts[2]), int(parts[3]))
    except (IndexError, ValueError):
        return None
