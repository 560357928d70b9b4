"""Stored reads for search tests, made by the production code: each read is parsed as the pipeline
parses it (`parse_read`), turned into its row by `domain.rows.read_row` at the instant archive stores
it, sent as the JSON archive sends, and written by the local Parquet sink into the reads layout, on
local disk (`DirectoryS3`) or on a moto bucket."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from nas.domain.models import Camera, CameraSource
from nas.domain.packing import ImageRef
from nas.domain.reads import parse_read
from nas.domain.rows import firehose_json, read_row
from nas.local.sink import ParquetRowSink

KENT_A = Camera(
    camera_id="KENT-A2-001", lea="KENT", lat=51.2798, lon=1.0789, source=CameraSource.STATIC, active=True
)
KENT_B = Camera(
    camera_id="KENT-M20-J9", lea="KENT", lat=51.1605, lon=0.8617, source=CameraSource.MULTI_LANE, active=True
)
ESSEX_A = Camera(
    camera_id="ESSEX-A12-004", lea="ESSEX", lat=51.7356, lon=0.4685, source=CameraSource.STATIC, active=True
)
CAMERAS = (KENT_A, KENT_B, ESSEX_A)


@dataclass(frozen=True)
class StoredRead:
    read_id: str
    vrm: str
    captured_at: datetime
    camera: Camera = KENT_A
    stored_after: timedelta = timedelta(seconds=30)
    """How long after capture archive stored it (over 24 hours: a late read)."""
    extra: dict[str, Any] = field(default_factory=dict)
    plate: ImageRef | None = None
    """Where archive packed its plate image (the pack itself is the test's to put)."""
    overview: ImageRef | None = None

    def payload(self) -> bytes:
        return json.dumps(
            {
                "schema": "nas.read.v1",
                "read_id": self.read_id,
                "vrm": self.vrm,
                "captured_at": self.captured_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "camera_id": self.camera.camera_id,
                "lea": self.camera.lea,
                "source": self.camera.source.value,
                "direction": "N",
                "confidence": 90,
                **self.extra,
            }
        ).encode()

    def row(self) -> bytes:
        """The JSON row archive sends to Firehose for this read."""
        stored_at = self.captured_at + self.stored_after
        accepted = parse_read(self.payload(), now=stored_at)
        row = read_row(
            accepted,
            self.camera,
            ingested_at=stored_at,
            stored_at=stored_at,
            plate=self.plate,
            overview=self.overview,
        )
        return orjson.dumps(firehose_json(row))


class DirectoryS3:
    """The one S3 call the sink makes, writing `Key` under a directory (the bucket's root)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:  # noqa: N803
        path = self.root / Key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Body)


def store(s3: Any, bucket: str, reads: list[StoredRead]) -> None:
    """Writes `reads` through the local Parquet sink (one commit, one flush: one file per partition)."""
    with tempfile.TemporaryDirectory(prefix="nas-sink-") as journal:
        sink = ParquetRowSink(s3, bucket, journal_dir=Path(journal))
        failed = sink.put_rows([r.row() for r in reads])
        assert not failed, f"rows refused by the sink: {failed}"
        sink.commit("shardId-000000000000", "1")
        assert sink.flush() == len(reads)
