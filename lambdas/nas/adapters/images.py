"""Packed images in the reads bucket (SPEC §4): one image by a byte-range GET of its pack, never the
pack itself and never a presigned URL to it (a client dropping the Range header would receive every
image of the batch). Erasure (R-SAR) reads and rewrites whole packs to blank an image's bytes."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from nas.adapters import StoreError, store_call
from nas.catalogue import IMAGES_PREFIX
from nas.domain.packing import ImageRef

PARALLEL_GETS = 16
"""Concurrent range GETs of a preservation's images (boto3 clients are thread-safe)."""


class ImageStore(Protocol):
    def get(self, ref: ImageRef) -> bytes | None:
        """The image's bytes, or None when its pack is gone (R-RET-367)."""
        ...

    def get_many(self, refs: Sequence[ImageRef]) -> list[bytes | None]:
        """`get` of each, in order."""
        ...


class PackStore(Protocol):
    """Whole packs, for erasure only."""

    def get_pack(self, key: str) -> bytes | None: ...

    def put_pack(self, key: str, body: bytes) -> None: ...

    def purge_older(self, key: str) -> int:
        """Deletes every version of the pack but the latest; returns how many."""
        ...


class S3ImageStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def get(self, ref: ImageRef) -> bytes | None:
        if not ref.key.startswith(IMAGES_PREFIX) or ref.length <= 0 or ref.offset < 0:
            return None  # a row points only into packs; anything else is not served
        with store_call("s3 GetObject (image range)"):
            try:
                body: bytes = self._s3.get_object(Bucket=self._bucket, Key=ref.key, Range=ref.byte_range)[
                    "Body"
                ].read()
            except self._s3.exceptions.NoSuchKey:
                return None
        if len(body) != ref.length:
            raise StoreError("an image pack is shorter than a row's reference into it")
        return body

    def get_many(self, refs: Sequence[ImageRef]) -> list[bytes | None]:
        if len(refs) <= 1:
            return [self.get(r) for r in refs]
        with ThreadPoolExecutor(max_workers=PARALLEL_GETS) as pool:
            return list(pool.map(self.get, refs))

    def get_pack(self, key: str) -> bytes | None:
        with store_call("s3 GetObject (pack)"):
            try:
                body: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
            except self._s3.exceptions.NoSuchKey:
                return None
        return body

    def put_pack(self, key: str, body: bytes) -> None:
        with store_call("s3 PutObject (pack)"):
            self._s3.put_object(
                Bucket=self._bucket, Key=key, Body=body, ContentType="application/octet-stream"
            )

    def purge_older(self, key: str) -> int:
        with store_call("s3 ListObjectVersions (pack)"):
            listed = self._s3.list_object_versions(Bucket=self._bucket, Prefix=key)
        older = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
            if v["Key"] == key and not v.get("IsLatest")
        ]
        if older:
            with store_call("s3 DeleteObjects (pack)"):
                self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": older, "Quiet": True})
        return len(older)
