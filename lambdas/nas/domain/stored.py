"""A stored read as its Parquet row holds it (`catalogue.READ_ROW_COLUMNS`) and where it lies (its
partition): what a read view shows, and what a preservation copies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from nas.domain.layout import Partition, ReadRef
from nas.domain.packing import ImageRef


class ImageKind(StrEnum):
    PLATE = "plate"
    OVERVIEW = "overview"


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One stored read (one copy of it: R-DUP may have stored it twice; readers keep the first
    stored). `vrm` is the VRM as the camera read it."""

    read_id: str
    camera_id: str
    vrm: str
    vrm_canonical: str
    captured_at: datetime
    lea: str
    source: str
    lat: float | None
    lon: float | None
    direction: str | None
    lane: int | None
    confidence: int | None
    late: bool
    ingested_at: datetime
    plate: ImageRef | None
    overview: ImageRef | None
    partition: Partition

    @property
    def ref(self) -> ReadRef:
        return ReadRef(self.partition, self.camera_id, self.read_id)

    def image(self, kind: ImageKind) -> ImageRef | None:
        return self.plate if kind is ImageKind.PLATE else self.overview


def first_stored(rows: list[StoredRow]) -> dict[tuple[str, str], StoredRow]:
    """R-DUP: of the copies of each read (same camera and read id) found, the one stored first, by
    (camera id, read id)."""
    chosen: dict[tuple[str, str], StoredRow] = {}
    for row in sorted(rows, key=lambda r: r.ingested_at):
        chosen.setdefault((row.camera_id, row.read_id), row)
    return chosen
