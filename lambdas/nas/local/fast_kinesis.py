"""Fast Kinesis for local mode's moto server: constant-time shards and a direct PutRecords/GetRecords
path.

moto keeps a shard's records in an ordered dict and, on every PutRecords and GetRecords, walks it
from the start (`list(self.records.keys())[-1]`, a scan for the iterator position): the cost of
each call grows with everything ever put, so a local run slows to a crawl within minutes. Sequence
numbers in moto are consecutive integers, so the position can be looked up directly instead.

moto's own PutRecords and GetRecords also decode and re-encode every record's base64 with the
standard library, build responses field by field and record CloudWatch metrics: about a millisecond
a 37 KB read. `KinesisFastPath` serves those two calls from the same backend objects (same streams,
shards, sequence numbers and iterators) with orjson, keeping each record's base64 as received;
every other call, and any call it cannot serve, goes to moto unchanged.

Local streams keep records for 24 hours (Kinesis's shortest retention; the CDK stream keeps 7
days), so a poller that falls behind, or a crashed run resumed the next morning, still finds what it
has not read, and `nas replay failures` can re-read a set-aside range. Memory is bounded by refusing
puts, never by trimming early: once the records held pass `NAS_LOCAL_STREAM_MAX_MB` (default a
quarter of the machine's memory, at most 4 GiB), PutRecords answers LimitExceededException saying
why, until the oldest records pass their 24 hours.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import pybase64
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.kinesis import models

LOCAL_RETENTION_S = 24 * 3600
MAX_MB_ENV = "NAS_LOCAL_STREAM_MAX_MB"


def default_max_bytes() -> int:
    """A quarter of the machine's memory, at most 4 GiB (1 GiB where the size is unknown)."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1024**3
    return min(physical // 4, 4 * 1024**3)


def max_held_bytes() -> int:
    configured = os.environ.get(MAX_MB_ENV)
    return int(float(configured) * 1024 * 1024) if configured else default_max_bytes()


class StreamStoreFull(Exception):
    """The local stream holds as much as it may: the put is refused, nothing is trimmed early."""


_held = {"bytes": 0}  # record data held by every shard of this process


def held_bytes() -> int:
    return _held["bytes"]


def _put_record(self: Any, partition_key: str, data: str, explicit_hash_key: str) -> str:
    sequence_number = getattr(self, "_nas_last_sequence", 0) + 1
    self._nas_last_sequence = sequence_number
    self.records[sequence_number] = models.Record(partition_key, data, sequence_number, explicit_hash_key)
    _held["bytes"] += len(data)
    oldest_kept = time.time() - LOCAL_RETENTION_S
    while self.records:
        first = next(iter(self.records))
        if self.records[first].created_at >= oldest_kept:
            break
        _held["bytes"] -= len(self.records[first].data)
        del self.records[first]
    return str(sequence_number)


def _get_records(self: Any, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
    last = int(last_sequence_id)
    if not self.records:
        return [], last, 0
    first, newest = next(iter(self.records)), next(reversed(self.records))
    start = max(last + 1, first)
    stop = newest if limit is None else min(newest, start + limit - 1)
    # Keys are consecutive: moto numbers records last + 1 and trimming only removes the oldest.
    results = [self.records[number] for number in range(start, stop + 1)]
    if not results:
        return [], last, 0
    behind_s = self.records[newest].created_at - results[-1].created_at
    return results, results[-1].sequence_number, int(behind_s * 1000)


def _min_sequence(self: Any) -> int:
    return next(iter(self.records)) if self.records else 0


def _max_sequence(self: Any) -> int:
    return getattr(self, "_nas_last_sequence", 0)


def install() -> None:
    """Replaces moto's shard methods in this process (the local moto server's own)."""
    models.Shard.put_record = _put_record  # type: ignore[method-assign]
    models.Shard.get_records = _get_records  # type: ignore[method-assign]
    models.Shard.get_min_sequence_number = _min_sequence  # type: ignore[method-assign]
    models.Shard.get_max_sequence_number = _max_sequence  # type: ignore[method-assign]


_TARGET_PREFIX = "Kinesis_20131202."
_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/kinesis/")
MAX_RECORDS_PER_PUT = 500
MAX_RECORD_BYTES = 1024 * 1024
MAX_PUT_BYTES = 5 * 1024 * 1024


def decoded_size(data: str) -> int:
    """Bytes a padded base64 string decodes to, without decoding it."""
    return len(data) * 3 // 4 - data[-2:].count("=") if data else 0


def is_strict_base64(data: str) -> bool:
    """Whether `data` is canonical padded base64, so GetRecords can pass it on as Lambda's `data`
    unchanged (the local pollers do; see stream_reader)."""
    try:
        pybase64.b64decode(data, validate=True)
    except ValueError:
        return False
    return True


class KinesisFastPath:
    """WSGI middleware in front of moto for PutRecords and GetRecords (see the module docstring)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        action = environ.get("HTTP_X_AMZ_TARGET", "").removeprefix(_TARGET_PREFIX)
        handler = {"PutRecords": self._put_records, "GetRecords": self._get_records}.get(action)
        region = _REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
        if handler is None or region is None:
            return self._app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            backend = models.kinesis_backends[DEFAULT_ACCOUNT_ID][region.group(1)]
            payload = handler(backend, orjson.loads(body))
        except StreamStoreFull as full:
            refusal = orjson.dumps({"__type": "LimitExceededException", "message": str(full)})
            start_response(
                "400 Bad Request",
                [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(refusal)))],
            )
            return [refusal]
        except Exception:
            payload = None
        if payload is None:
            environ["wsgi.input"] = io.BytesIO(body)
            return self._app(environ, start_response)
        start_response(
            "200 OK", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))]
        )
        return [payload]

    @staticmethod
    def _put_records(backend: Any, request: dict[str, Any]) -> bytes | None:
        records = request["Records"]
        sizes = [decoded_size(r["Data"]) + len(r["PartitionKey"]) for r in records]
        if not records or len(records) > MAX_RECORDS_PER_PUT or sum(sizes) > MAX_PUT_BYTES:
            return None  # moto reports the limit breached
        if max(sizes) > MAX_RECORD_BYTES:
            return None
        if not all(is_strict_base64(r["Data"]) for r in records):
            return None  # moto's own path deals with it as before; GetRecords serves what is stored
        limit = max_held_bytes()
        if held_bytes() + sum(len(r["Data"]) for r in records) > limit:
            raise StreamStoreFull(
                f"the local stream store holds {held_bytes() // 1024**2} MiB of the last 24 hours"
                f" (limit {limit // 1024**2} MiB, {MAX_MB_ENV}): puts are refused until the oldest"
                " records expire; restart nas local with --reset to start empty, or raise the limit"
            )
        stream = backend.describe_stream(
            stream_arn=request.get("StreamARN"), stream_name=request.get("StreamName")
        )
        results = []
        for record in records:
            sequence_number, shard_id = stream.put_record(
                record["PartitionKey"], record.get("ExplicitHashKey"), record["Data"]
            )
            results.append({"SequenceNumber": sequence_number, "ShardId": shard_id})
        return orjson.dumps({"FailedRecordCount": 0, "Records": results})

    @staticmethod
    def _get_records(backend: Any, request: dict[str, Any]) -> bytes | None:
        next_iterator, records, behind_ms = backend.get_records(
            request.get("StreamARN"), request["ShardIterator"], request.get("Limit")
        )
        return orjson.dumps(
            {
                "NextShardIterator": next_iterator,
                "MillisBehindLatest": behind_ms,
                "Records": [
                    {
                        "Data": r.data,
                        "PartitionKey": r.partition_key,
                        "SequenceNumber": str(r.sequence_number),
                        "ApproximateArrivalTimestamp": r.created_at,
                    }
                    for r in records
                ],
            }
        )
