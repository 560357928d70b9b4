"""What can be replayed after a fix (R-QUARANTINE: nothing is dropped, everything set aside can come
back): stream ranges an event source mapping set aside in the on-failure queue, records refused
into quarantine documents, and rows Firehose could not convert (`firehose-errors/`). Pure: parsing
and selecting; reading, re-sending and marking are the replay service's."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nas.domain.timefmt import iso_utc

ON_FAILURE_VERSION = "1.0"


class ReplayInputError(ValueError):
    """A document set aside for replay is not in the form its producer writes; names what is wrong."""


class _KinesisBatchInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    shard_id: str = Field(alias="shardId", min_length=1)
    start_sequence_number: str = Field(alias="startSequenceNumber", pattern=r"^[0-9]+$")
    end_sequence_number: str = Field(alias="endSequenceNumber", pattern=r"^[0-9]+$")
    batch_size: int = Field(alias="batchSize", ge=1)
    stream_arn: str = Field(alias="streamArn", min_length=1)


class _RequestContext(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    function_arn: str = Field(alias="functionArn", default="")
    condition: str = ""


class _OnFailure(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    request_context: _RequestContext = Field(alias="requestContext", default_factory=_RequestContext)
    batch: _KinesisBatchInfo = Field(alias="KinesisBatchInfo")


@dataclass(frozen=True, slots=True)
class SetAsideRange:
    """A range of one shard that a consumer gave up on (Lambda's on-failure record for Kinesis)."""

    shard_id: str
    first_sequence_number: str
    last_sequence_number: str
    batch_size: int
    stream_arn: str
    function_arn: str
    condition: str

    def holds(self, sequence_number: str) -> bool:
        return int(self.first_sequence_number) <= int(sequence_number) <= int(self.last_sequence_number)

    @property
    def stream_name(self) -> str:
        return self.stream_arn.rsplit("/", 1)[-1]

    @classmethod
    def parse(cls, body: str | bytes) -> SetAsideRange:
        """From the body of an on-failure queue message; raises ReplayInputError when it is not one."""
        try:
            message = _OnFailure.model_validate_json(body)
        except ValidationError as exc:
            raise ReplayInputError(f"not an on-failure record of a Kinesis event source: {exc}") from None
        batch = message.batch
        if int(batch.start_sequence_number) > int(batch.end_sequence_number):
            raise ReplayInputError("startSequenceNumber is after endSequenceNumber")
        return cls(
            shard_id=batch.shard_id,
            first_sequence_number=batch.start_sequence_number,
            last_sequence_number=batch.end_sequence_number,
            batch_size=batch.batch_size,
            stream_arn=batch.stream_arn,
            function_arn=message.request_context.function_arn,
            condition=message.request_context.condition,
        )


def on_failure_record(
    *,
    function_arn: str,
    stream_arn: str,
    shard_id: str,
    first: tuple[str, datetime],
    last: tuple[str, datetime],
    batch_size: int,
    attempts: int,
    condition: str,
    now: datetime,
) -> bytes:
    """The message an event source mapping sends to its on-failure destination for a Kinesis range
    (local mode's pollers send the same, so `nas replay` reads both alike)."""
    return orjson.dumps(
        {
            "requestContext": {
                "requestId": f"{shard_id}:{first[0]}",
                "functionArn": function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": ON_FAILURE_VERSION,
            "timestamp": iso_utc(now),
            "KinesisBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first[0],
                "endSequenceNumber": last[0],
                "approximateArrivalOfFirstRecord": iso_utc(first[1]),
                "approximateArrivalOfLastRecord": iso_utc(last[1]),
                "batchSize": batch_size,
                "streamArn": stream_arn,
            },
        }
    )


# --- quarantine documents --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuarantinedRecord:
    """One refused record of a `nas.quarantine.v1` document: the exact bytes received and why."""

    sequence_number: str
    shard_id: str
    partition_key: str
    data: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class QuarantineSelection:
    """Which quarantined records to re-send: by reason (none given: all) and by the day they were
    quarantined (the document key's date, from..to inclusive; none given: every day)."""

    reasons: frozenset[str] = frozenset()
    first_day: date | None = None
    last_day: date | None = None

    def takes_day(self, day: date) -> bool:
        return (self.first_day is None or day >= self.first_day) and (
            self.last_day is None or day <= self.last_day
        )

    def takes(self, record: QuarantinedRecord) -> bool:
        return not self.reasons or record.reason in self.reasons


QUARANTINE_SCHEMA = "nas.quarantine.v1"


def quarantined_records(document: bytes) -> list[QuarantinedRecord]:
    """The records of a quarantine document; raises ReplayInputError naming what is wrong."""
    try:
        parsed: Any = orjson.loads(document)
    except orjson.JSONDecodeError:
        raise ReplayInputError("quarantine document is not JSON") from None
    if not isinstance(parsed, dict) or parsed.get("schema") != QUARANTINE_SCHEMA:
        raise ReplayInputError(f"not a {QUARANTINE_SCHEMA} document")
    records: list[QuarantinedRecord] = []
    for n, item in enumerate(parsed.get("records") or []):
        try:
            records.append(
                QuarantinedRecord(
                    sequence_number=str(item["sequence_number"]),
                    shard_id=str(item["shard_id"]),
                    partition_key=str(item["partition_key"]),
                    data=base64.b64decode(item["data_base64"], validate=True),
                    reason=str(item["reason"]),
                )
            )
        except (KeyError, TypeError, binascii.Error) as exc:
            raise ReplayInputError(f"records[{n}]: {exc}") from None
    return records


def quarantine_day(key: str, prefix: str) -> date | None:
    """The day in a quarantine object key (`quarantine/YYYY-MM-DD/<shard>/<range>.json`)."""
    part = key.removeprefix(prefix).split("/", 1)[0]
    try:
        return date.fromisoformat(part)
    except ValueError:
        return None


# --- Firehose error output -------------------------------------------------------------------------


def firehose_error_rows(document: bytes) -> tuple[list[bytes], int]:
    """The rows in a Firehose error object (one JSON document a line, `rawData` the base64 of what
    was put: one row, or several JSON lines when rows travel many to a record), and how many lines
    held no row."""
    rows: list[bytes] = []
    unreadable = 0
    for line in document.splitlines():
        if not line.strip():
            continue
        try:
            raw = base64.b64decode(orjson.loads(line)["rawData"], validate=True)
        except (orjson.JSONDecodeError, KeyError, TypeError, binascii.Error):
            unreadable += 1
            continue
        rows.extend(row + b"\n" for row in _json_lines(raw))
    return rows, unreadable


def _json_lines(raw: bytes) -> Iterator[bytes]:
    for line in raw.splitlines():
        if line.strip():
            yield line.strip()
