"""R-SAR erasure over the Parquet layout with pyarrow: rewrites the Parquet files holding the VRM's rows
without them and blanks its images in their packs. It imports pyarrow and boto3 only (never DuckDB),
so it runs in local mode and in the erasure Lambda, which has the pyarrow layer (docs/reads.md).

Erasure rewrites each affected file at its own key (a new version) and then deletes every older
version of that key (`VersionPurger`), so nothing of the erased rows is left in a versioned bucket;
the same for packs. A plain directory keeps no versions.
"""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any, Protocol

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.fs as pafs  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from nas.adapters import store_call
from nas.adapters.images import PackStore
from nas.catalogue import IMAGES_PREFIX, READS_PREFIX
from nas.domain.erasure import ErasureCounts, ErasureScope, blanked
from nas.domain.layout import Arrival, bucket_in

_IMAGE_COLUMNS = ("plate_image", "overview_image")


def s3_filesystem(
    endpoint_url: str | None, region: str, credentials: tuple[str, str] | None = None
) -> pafs.S3FileSystem:
    """pyarrow's S3 client, pointed at `endpoint_url` (moto) when given; credentials come from the
    environment, as boto3's do, unless given (the command line against local mode)."""
    options: dict[str, Any] = {"region": region}
    if credentials is not None:
        options.update(access_key=credentials[0], secret_key=credentials[1])
    if endpoint_url:
        scheme, _, host = endpoint_url.partition("://")
        options.update(endpoint_override=host.rstrip("/"), scheme=scheme)
    return pafs.S3FileSystem(**options)


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


class ParquetReadEraser:
    """R-SAR erasure over the layout (see the module's doc)."""

    def __init__(
        self, filesystem: pafs.FileSystem, root: str, *, versions: VersionPurger, packs: PackStore
    ) -> None:
        """Parquet under `root` on `filesystem` (older versions purged by `versions`); packs through
        `packs` (the reads bucket)."""
        self._fs = filesystem
        self._root = root.rstrip("/")
        self._versions = versions
        self._packs = packs

    def erase(self, scope: ErasureScope) -> ErasureCounts:
        """Images first, then rows: the rows name the images, so a run that fails part way (and is
        retried) still finds every image to blank; blanking again and rewriting again change nothing
        more. Files are read twice rather than held: the VRM's buckets span every day held."""
        counts = ErasureCounts()
        images: dict[str, list[tuple[int, int]]] = defaultdict(list)
        affected: list[str] = []
        for path in self._files(scope):
            table, mask = self._read(path, scope)
            if not any(mask):
                continue
            affected.append(path)
            erased = table.filter(pa.array(mask))
            for kind in _IMAGE_COLUMNS:
                for key, offset, length in zip(
                    *(erased.column(f"{kind}_{p}").to_pylist() for p in ("key", "offset", "length")),
                    strict=True,
                ):
                    if key is not None and length:
                        images[key].append((offset, length))
        for key, ranges in sorted(images.items()):
            pack = self._packs.get_pack(key) if key.startswith(IMAGES_PREFIX) else None
            if pack is None:
                continue
            self._packs.put_pack(key, blanked(pack, ranges))
            counts.packs_rewritten += 1
            counts.images_removed += len(ranges)
            counts.old_versions_deleted += self._packs.purge_older(key)
        for path in affected:
            table, mask = self._read(path, scope)
            kept = table.filter(pa.array([not m for m in mask]))
            if kept.num_rows:
                self._write(path, kept)
            else:
                self._fs.delete_file(path)
            counts.files_rewritten += 1
            counts.rows_removed += table.num_rows - kept.num_rows
            counts.rows_kept_in_rewritten_files += kept.num_rows
            counts.old_versions_deleted += self._versions.purge_older(self._key(path))
        return counts

    def _read(self, path: str, scope: ErasureScope) -> tuple[pa.Table, list[bool]]:
        """The file's rows, and which of them are the scope's."""
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
        return table, mask

    def _files(self, scope: ErasureScope) -> list[str]:
        """Every file of the VRM's buckets (all days held), and of the partitions of reads corrected
        to it."""
        found: list[str] = []
        for arrival in Arrival:
            bucket = bucket_in(arrival, scope.live_bucket)
            prefix = f"{self._root}/{READS_PREFIX}arrival={arrival.value}/"
            found += [p for p in self._listed(prefix) if f"/vrm_bucket={bucket}/" in p]
        for partition in sorted(set(scope.corrected_to.values())):
            found += self._listed(f"{self._root}/{partition.prefix}")
        return sorted(set(found))

    def _listed(self, prefix: str) -> list[str]:
        selector = pafs.FileSelector(prefix, recursive=True, allow_not_found=True)
        return [
            i.path
            for i in self._fs.get_file_info(selector)
            if i.type == pafs.FileType.File and i.path.endswith(".parquet")
        ]

    def _key(self, path: str) -> str:
        return path[len(self._root) + 1 :]

    def _write(self, path: str, table: pa.Table) -> None:
        buffer = io.BytesIO()
        # As the sink writes them: sorted rows kept in their order, row groups with statistics.
        pq.write_table(table, buffer, compression="snappy", row_group_size=2048, write_statistics=True)
        with self._fs.open_output_stream(path) as out:
            out.write(buffer.getvalue())
