"""The stored row of a read (Glue table `reads`, `catalogue.READ_ROW_COLUMNS`): no image bytes, the
camera's site for fixed cameras, images by packed-object reference, the canonical VRM (R-VRM look-alikes)
and the partition it is stored in (`domain/layout.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nas.catalogue import READ_ROW_COLUMNS
from nas.domain.layout import partition_of
from nas.domain.models import Camera
from nas.domain.packing import ImageRef
from nas.domain.reads import AcceptedRead, read_location
from nas.domain.timefmt import epoch_millis
from nas.domain.vrm import canonical_vrm

TIMESTAMP_COLUMNS = frozenset(name for name, type_ in READ_ROW_COLUMNS if type_ == "timestamp")


def read_row(
    accepted: AcceptedRead,
    camera: Camera,
    *,
    ingested_at: datetime,
    stored_at: datetime,
    plate: ImageRef | None,
    overview: ImageRef | None,
) -> dict[str, Any]:
    """One row with every catalogued column (None where absent), timestamps as datetimes in UTC,
    plus the partition values (`lane`, `day`, `vrm_bucket`). `stored_at` is when archive stores it:
    a late read's partition day."""
    read = accepted.read
    location = read_location(read, camera)
    canonical = canonical_vrm(read.vrm)
    late = not accepted.raises_live_alerts
    row: dict[str, Any] = {
        "read_id": read.read_id,
        "camera_id": read.camera_id,
        "vrm": read.vrm,
        "vrm_canonical": canonical,
        "captured_at": read.captured_at,
        "lea": read.lea,
        "source": read.source.value,
        "lat": location.lat,
        "lon": location.lon,
        "direction": read.direction.value if read.direction else None,
        "lane": read.lane,
        "confidence": read.confidence,
        "late": late,
        "ingested_at": ingested_at,
        "plate_image_key": plate.key if plate else None,
        "plate_image_offset": plate.offset if plate else None,
        "plate_image_length": plate.length if plate else None,
        "overview_image_key": overview.key if overview else None,
        "overview_image_offset": overview.offset if overview else None,
        "overview_image_length": overview.length if overview else None,
    }
    partition = partition_of(
        captured_at=read.captured_at, vrm_canonical=canonical, late=late, stored_at=stored_at
    )
    row.update(partition.values())
    return row


def firehose_json(row: dict[str, Any]) -> dict[str, Any]:
    """The row as Firehose's Hive JSON SerDe reads it: timestamps as epoch milliseconds."""
    return {k: epoch_millis(v) if k in TIMESTAMP_COLUMNS else v for k, v in row.items()}
