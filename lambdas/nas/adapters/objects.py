"""S3 objects written by the pipeline (packed images, quarantined records) and read back by replay
(quarantine documents, Firehose's error output, the marks of what was replayed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from nas.adapters import store_call

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ObjectStore(Protocol):
    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...


class ObjectArchive(ObjectStore, Protocol):
    """Reading objects back, for replay."""

    def keys(self, bucket: str, prefix: str) -> Iterator[str]:
        """Every key under `prefix`, in key order."""
        ...

    def get(self, bucket: str, key: str) -> bytes | None:
        """The object's bytes, or None when there is none."""
        ...


class InMemoryObjectStore:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self.objects[(bucket, key)] = body

    def keys(self, bucket: str, prefix: str) -> Iterator[str]:
        yield from sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))

    def get(self, bucket: str, key: str) -> bytes | None:
        return self.objects.get((bucket, key))


class S3ObjectStore:
    def __init__(self, client: S3Client) -> None:
        self._client = client

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        # Bucket default encryption (the storage key) applies; no per-object override needed.
        self._client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    def keys(self, bucket: str, prefix: str) -> Iterator[str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        with store_call(f"s3 ListObjectsV2 {prefix}"):
            for page in pages:
                yield from (o["Key"] for o in page.get("Contents", []))

    def get(self, bucket: str, key: str) -> bytes | None:
        with store_call("s3 GetObject"):
            try:
                body: bytes = self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
            except self._client.exceptions.NoSuchKey:
                return None
        return body
