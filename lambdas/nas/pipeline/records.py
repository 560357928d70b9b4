"""A stream record as both consumers see it, whatever delivered it (Lambda event, local poller)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pybase64

from nas.adapters.cameras import CameraRegistry
from nas.domain.errors import ReadRejected
from nas.domain.models import Camera
from nas.domain.reads import AcceptedRead, check_camera, parse_read


@dataclass(frozen=True, slots=True)
class StreamRecord:
    sequence_number: str
    partition_key: str
    shard_id: str
    data: bytes
    arrived_at: datetime

    @classmethod
    def from_lambda_event(cls, record: Mapping[str, Any]) -> StreamRecord:
        """From one entry of a Kinesis event's `Records` (eventID is `<shard id>:<sequence number>`)."""
        kinesis = record["kinesis"]
        return cls(
            sequence_number=kinesis["sequenceNumber"],
            partition_key=kinesis["partitionKey"],
            shard_id=record["eventID"].split(":", 1)[0],
            data=pybase64.b64decode(kinesis["data"], validate=True),
            arrived_at=datetime.fromtimestamp(float(kinesis["approximateArrivalTimestamp"]), UTC),
        )


@dataclass(frozen=True, slots=True)
class Admitted:
    record: StreamRecord
    accepted: AcceptedRead
    camera: Camera


@dataclass(frozen=True, slots=True)
class Refused:
    record: StreamRecord
    rejection: ReadRejected


def admit(records: Sequence[StreamRecord], cameras: CameraRegistry) -> tuple[list[Admitted], list[Refused]]:
    """Both consumers accept and refuse exactly the same records: R-READ and R-LATE on the bytes,
    then R-CAMERA against the registry (one batched lookup for the whole batch).

    R-LATE is judged against the record's arrival in the stream (Kinesis' approximate arrival
    timestamp), never the consumer's clock: match runs within a second, archive up to 30 s later
    (days, while it retries a storage fault), and both must call the same read live, late or a
    clock fault."""
    parsed: list[tuple[StreamRecord, AcceptedRead]] = []
    refused: list[Refused] = []
    for record in records:
        try:
            parsed.append((record, parse_read(record.data, now=record.arrived_at)))
        except ReadRejected as rejection:
            refused.append(Refused(record, rejection))
    registered = cameras.get_many({accepted.read.camera_id for _, accepted in parsed})
    admitted: list[Admitted] = []
    for record, accepted in parsed:
        try:
            camera = check_camera(accepted.read, registered.get(accepted.read.camera_id))
        except ReadRejected as rejection:
            refused.append(Refused(record, rejection))
            continue
        admitted.append(Admitted(record, accepted, camera))
    return admitted, refused
