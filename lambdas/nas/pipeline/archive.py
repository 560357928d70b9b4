"""The archive consumer: every record stored, or quarantined with its reason (R-QUARANTINE).

Per batch: one object holding every image of the batch (SPEC §4: packed images), one object holding
every refused record whole and raw with its reason, and the metadata rows to Firehose, which writes
them as Parquet partitioned by arrival, day and VRM bucket (`domain/layout.py`). Object keys derive
from the batch's shard and sequence numbers, so a retried batch overwrites its own objects instead
of leaving copies.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from nas.adapters.cameras import CameraRegistry
from nas.adapters.firehose import RowSink
from nas.adapters.objects import ObjectStore
from nas.catalogue import IMAGES_PREFIX, QUARANTINE_PREFIX
from nas.domain.packing import ImagePack
from nas.domain.rows import firehose_json, read_row
from nas.domain.timefmt import iso_utc, utc_date
from nas.pipeline.records import Refused, StreamRecord, admit

QUARANTINE_SCHEMA = "nas.quarantine.v1"


@dataclass(slots=True)
class ArchiveResult:
    received: int = 0
    archived: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    images_packed: int = 0
    pack_bytes: int = 0
    failed_sequence_numbers: set[str] = field(default_factory=set)


def batch_object_key(prefix: str, records: Sequence[StreamRecord], suffix: str) -> str:
    """Derived from the batch alone (the first record's arrival date, shard and sequence range), so
    a retried batch overwrites its own object whenever it runs."""
    first, last = records[0], records[-1]
    day = utc_date(first.arrived_at)
    return f"{prefix}{day}/{first.shard_id}/{first.sequence_number}-{last.sequence_number}{suffix}"


def quarantine_document(refused: Sequence[Refused], now: datetime) -> bytes:
    """Each refused record whole (base64 of the exact bytes received) with its machine-readable
    reason and the fields at fault, so it can be inspected and replayed after a fix."""
    return json.dumps(
        {
            "schema": QUARANTINE_SCHEMA,
            "quarantined_at": iso_utc(now),
            "records": [
                {
                    "sequence_number": r.record.sequence_number,
                    "shard_id": r.record.shard_id,
                    "partition_key": r.record.partition_key,
                    "arrived_at": iso_utc(r.record.arrived_at),
                    "data_base64": base64.b64encode(r.record.data).decode("ascii"),
                    **r.rejection.as_dict(),
                }
                for r in refused
            ],
        },
        separators=(",", ":"),
    ).encode()


class ArchiveService:
    def __init__(
        self,
        *,
        cameras: CameraRegistry,
        objects: ObjectStore,
        rows: RowSink,
        reads_bucket: str,
        quarantine_bucket: str,
    ) -> None:
        self._cameras = cameras
        self._objects = objects
        self._rows = rows
        self._reads_bucket = reads_bucket
        self._quarantine_bucket = quarantine_bucket

    def process(self, records: Sequence[StreamRecord], *, now: datetime) -> ArchiveResult:
        result = ArchiveResult(received=len(records))
        if not records:
            return result
        admitted, refused = admit(records, self._cameras)

        if refused:
            key = batch_object_key(QUARANTINE_PREFIX, records, ".json")
            self._objects.put(
                self._quarantine_bucket, key, quarantine_document(refused, now), "application/json"
            )
            result.quarantined.update(r.rejection.reason for r in refused)

        pack = ImagePack(batch_object_key(IMAGES_PREFIX, records, ".jpgpack"))
        encoded: list[bytes] = []
        for item in admitted:
            read = item.accepted.read
            plate = pack.add(read.plate_image) if read.plate_image else None
            overview = pack.add(read.overview_image) if read.overview_image else None
            row = read_row(
                item.accepted,
                item.camera,
                ingested_at=item.record.arrived_at,
                stored_at=now,
                plate=plate,
                overview=overview,
            )
            encoded.append(orjson.dumps(firehose_json(row), option=orjson.OPT_APPEND_NEWLINE))
        if not pack.empty:
            # Images first: a row must never point at an image that is not stored.
            body = pack.body()
            self._objects.put(self._reads_bucket, pack.key, body, "application/octet-stream")
            result.images_packed = sum(
                (a.accepted.read.plate_image is not None) + (a.accepted.read.overview_image is not None)
                for a in admitted
            )
            result.pack_bytes = len(body)

        failed = self._rows.put_rows(encoded) if encoded else set()
        result.archived = len(encoded) - len(failed)
        result.failed_sequence_numbers = {admitted[i].record.sequence_number for i in failed}
        return result
