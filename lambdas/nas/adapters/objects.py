"""S3 objects written by the pipeline: packed images and quarantined records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ObjectStore(Protocol):
    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...


class InMemoryObjectStore:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self.objects[(bucket, key)] = body


class S3ObjectStore:
    def __init__(self, client: S3Client) -> None:
        self._client = client

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        # Bucket default encryption (the storage key) applies; no per-object override needed.
        self._client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
