"""Stored reads over the Parquet layout with pyarrow, for local mode and tests (never in Lambda: pyarrow
is not in the layer): one read's row by reference (reading its one partition), and R-SAR erasure, which
rewrites the Parquet files holding the VRM's rows without them and blanks its images in their packs.

Erasure rewrites each affected file at its own key (a new version) and then deletes every older
version of that key (`VersionPurger`), so nothing of the erased rows is left in a versioned bucket;
the same for packs. A plain directory keeps no versions.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Collection
from datetime import date
from typing import Any, Protocol

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.fs as pafs  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from nas.adapters import store_call
from nas.adapters.duckdb_search import DuckDbSearchEngine
from nas.adapters.images import PackStore
from nas.catalogue import IMAGES_PREFIX, READS_PREFIX
from nas.domain.erasure import ErasureCounts, ErasureScope, blanked
from nas.domain.layout import Arrival, Partition, ReadRef, bucket_in
from nas.domain.packing import ImageRef
from nas.domain.stored import StoredRow, first_stored

ReadKey = tuple[str, str]
_IMAGE_COLUMNS = ("plate_image", "overview_image")


class VersionPurger(Protocol):
    def purge_older(self, key: str) -> int:
        """Deletes every version of `key` but the latest; returns how many were deleted."""
        ...


class NoVersions:
    """A directory of files: writing a file replaces it, nothing older remains."""

    def purge_older(self, key: str) -> int:
        return 0


class S3VersionPurger:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def purge_older(self, key: str) -> int:
        with store_call("s3 ListObjectVersions (erasure)"):
            listed = self._s3.list_object_versions(Bucket=self._bucket, Prefix=key)
        older = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
            if v["Key"] == key and not v.get("IsLatest")
        ]
        if older:
            with store_call("s3 DeleteObjects (erasure)"):
                self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": older, "Quiet": True})
        return len(older)


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


class ParquetReadEraser:
    """R-SAR erasure over the layout (see the module's doc)."""

    def __init__(
        self, filesystem: pafs.FileSystem, root: str, *, versions: VersionPurger, packs: PackStore
    ) -> None:
        """Parquet under `root` on `filesystem` (older versions purged by `versions`); packs through
        `packs` (the reads bucket)."""
        self._fs = filesystem
        self._root = root.rstrip("/")
        self._layout = DuckDbSearchEngine(filesystem, root)
        self._versions = versions
        self._packs = packs

    def erase(self, scope: ErasureScope) -> ErasureCounts:
        counts = ErasureCounts()
        images: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for path in self._files(scope):
            with self._fs.open_input_file(path) as source:
                table = pq.ParquetFile(source).read()  # the file's columns only: no partition discovery
            mask = [
                scope.holds(c, r, v)
                for c, r, v in zip(
                    table.column("camera_id").to_pylist(),
                    table.column("read_id").to_pylist(),
                    table.column("vrm").to_pylist(),
                    strict=True,
                )
            ]
            if not any(mask):
                continue
            erased = table.filter(pa.array(mask))
            for kind in _IMAGE_COLUMNS:
                for key, offset, length in zip(
                    *(erased.column(f"{kind}_{p}").to_pylist() for p in ("key", "offset", "length")),
                    strict=True,
                ):
                    if key is not None and length:
                        images[key].append((offset, length))
            kept = table.filter(pa.array([not m for m in mask]))
            if kept.num_rows:
                self._write(path, kept)
            else:
                self._fs.delete_file(path)
            counts.files_rewritten += 1
            counts.rows_removed += erased.num_rows
            counts.rows_kept_in_rewritten_files += kept.num_rows
            counts.old_versions_deleted += self._versions.purge_older(self._key(path))
        for key, ranges in sorted(images.items()):
            pack = self._packs.get_pack(key) if key.startswith(IMAGES_PREFIX) else None
            if pack is None:
                continue
            self._packs.put_pack(key, blanked(pack, ranges))
            counts.packs_rewritten += 1
            counts.images_removed += len(ranges)
            counts.old_versions_deleted += self._packs.purge_older(key)
        return counts

    def _files(self, scope: ErasureScope) -> list[str]:
        """Every file of the VRM's buckets (all days held), and of the partitions of reads corrected
        to it."""
        found: list[str] = []
        for arrival in Arrival:
            bucket = bucket_in(arrival, scope.live_bucket)
            prefix = f"{self._root}/{READS_PREFIX}arrival={arrival.value}/"
            selector = pafs.FileSelector(prefix, recursive=True, allow_not_found=True)
            for info in self._fs.get_file_info(selector):
                if info.type == pafs.FileType.File and f"/vrm_bucket={bucket}/" in info.path:
                    found.append(info.path)
        found += self._layout.files(sorted(set(scope.corrected_to.values())))
        return sorted(set(found))

    def _key(self, path: str) -> str:
        return path[len(self._root) + 1 :]

    def _write(self, path: str, table: pa.Table) -> None:
        buffer = io.BytesIO()
        # As the sink writes them: sorted rows kept in their order, row groups with statistics.
        pq.write_table(table, buffer, compression="snappy", row_group_size=2048, write_statistics=True)
        with self._fs.open_output_stream(path) as out:
            out.write(buffer.getvalue())
