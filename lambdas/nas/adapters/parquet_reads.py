"""Stored reads over the Parquet layout with pyarrow, for local mode and tests (never in Lambda: DuckDB
is not in the layer): one read's row by reference, reading its one partition. R-SAR erasure over the
same layout is `parquet_erasure.py`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.fs as pafs  # type: ignore[import-untyped]

from nas.adapters.duckdb_search import DuckDbSearchEngine
from nas.domain.layout import Arrival, Partition, ReadRef
from nas.domain.packing import ImageRef
from nas.domain.stored import StoredRow, first_stored

ReadKey = tuple[str, str]


def _row(values: dict[str, Any]) -> StoredRow:
    def image(kind: str) -> ImageRef | None:
        key, offset, length = (values.get(f"{kind}_{part}") for part in ("key", "offset", "length"))
        return ImageRef(key, offset, length) if key is not None and offset is not None and length else None

    return StoredRow(
        read_id=values["read_id"],
        camera_id=values["camera_id"],
        vrm=values["vrm"],
        vrm_canonical=values["vrm_canonical"],
        captured_at=values["captured_at"],
        lea=values["lea"],
        source=values["source"],
        lat=values["lat"],
        lon=values["lon"],
        direction=values["direction"],
        lane=values["lane"],
        confidence=values["confidence"],
        late=bool(values["late"]),
        ingested_at=values["ingested_at"],
        plate=image("plate_image"),
        overview=image("overview_image"),
        partition=Partition(
            Arrival(values["arrival"]), date.fromisoformat(values["day"]), values["vrm_bucket"]
        ),
    )


class ParquetReadStore:
    """`ReadStore` over the layout: the files of each referenced read's partition, filtered to it."""

    def __init__(self, filesystem: pafs.FileSystem, root: str) -> None:
        self._layout = DuckDbSearchEngine(filesystem, root)

    def get_many(self, refs: Collection[ReadRef]) -> dict[ReadKey, StoredRow]:
        by_partition: dict[Partition, list[ReadRef]] = defaultdict(list)
        for ref in refs:
            by_partition[ref.partition].append(ref)
        rows: list[StoredRow] = []
        for partition, wanted in by_partition.items():
            files = self._layout.files([partition])
            self.last_files = files
            predicate = pc.field("read_id").isin(pa.array(sorted({r.read_id for r in wanted}))) & pc.field(
                "camera_id"
            ).isin(pa.array(sorted({r.camera_id for r in wanted})))
            found = self._layout.dataset(files).to_table(filter=predicate).to_pylist()
            keys = {(r.camera_id, r.read_id) for r in wanted}
            rows += [_row(v) for v in found if (v["camera_id"], v["read_id"]) in keys]
        return first_stored(rows)
