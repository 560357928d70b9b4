"""The imports bucket (R-VOI-BULK): uploaded lists under `incoming/`, the load's working files
under `work/`, and each import's rejected rows as CSV under `rejects/` (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from botocore.exceptions import ClientError

from nas import catalogue
from nas.adapters import StoreError, store_call

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

INCOMING_PREFIX = catalogue.IMPORTS_INCOMING_PREFIX
WORK_PREFIX = catalogue.IMPORTS_WORK_PREFIX
REJECTS_PREFIX = catalogue.IMPORTS_REJECTS_PREFIX
READ_BLOCK_BYTES = 1024 * 1024
PART_BYTES = 8 * 1024 * 1024  # S3 multipart parts are at least 5 MiB (but the last)


_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def incoming_key(import_id: str) -> str:
    return f"{INCOMING_PREFIX}{import_id}.csv"


def import_id_of(key: str) -> str | None:
    """The import an uploaded object belongs to (`incoming/<import_id>.csv`)."""
    if not key.startswith(INCOMING_PREFIX) or not key.endswith(".csv"):
        return None
    import_id = key[len(INCOMING_PREFIX) : -len(".csv")]
    return import_id if import_id and "/" not in import_id else None


def work_prefix(import_id: str) -> str:
    return f"{WORK_PREFIX}{import_id}/"


def rejects_key(import_id: str) -> str:
    return f"{REJECTS_PREFIX}{import_id}.csv"


class FileChanged(StoreError):
    """The uploaded object is no longer the one the import started with (uploaded again)."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    size: int
    etag: str


class ImportFiles(Protocol):
    def upload_url(self, key: str, expires_s: int) -> str: ...

    def download_url(self, key: str, expires_s: int) -> str: ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def read(
        self, key: str, start: int, end: int | None = None, *, etag: str | None = None
    ) -> Iterator[bytes]: ...

    def get(self, key: str) -> bytes: ...

    def put(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None: ...

    def put_stream(self, key: str, blocks: Iterable[bytes], content_type: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int: ...


class S3ImportFiles:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def upload_url(self, key: str, expires_s: int) -> str:
        """A presigned PUT: the bucket's default encryption (the storage key) applies to the upload."""
        with store_call("imports presign put"):
            return self._client.generate_presigned_url(
                "put_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_s
            )

    def download_url(self, key: str, expires_s: int) -> str:
        with store_call("imports presign get"):
            return self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_s
            )

    def head(self, key: str) -> ObjectInfo | None:
        with store_call("imports head"):
            try:
                response = self._client.head_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return None
                raise
        return ObjectInfo(size=int(response["ContentLength"]), etag=str(response["ETag"]))

    def read(
        self, key: str, start: int, end: int | None = None, *, etag: str | None = None
    ) -> Iterator[bytes]:
        """Bytes [start, end) of the object (to its end when `end` is None), streamed in blocks;
        with `etag`, only while the object is still that one."""
        request: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": key,
            "Range": f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}",
        }
        if etag is not None:
            request["IfMatch"] = etag
        with store_call("imports read"):
            try:
                body = self._client.get_object(**request)["Body"]
            except ClientError as exc:
                if _code(exc) in ("PreconditionFailed", "412"):
                    raise FileChanged(f"{key} changed since the import started") from None
                raise
            try:
                yield from body.iter_chunks(READ_BLOCK_BYTES)
            finally:
                body.close()  # a reader that stops early must not leave the connection half read

    def get(self, key: str) -> bytes:
        with store_call("imports get"):
            return self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()

    def put(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        with store_call("imports put"):
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)

    def put_stream(self, key: str, blocks: Iterable[bytes], content_type: str) -> None:
        """Writes the concatenation of `blocks` without holding it: one PUT when it is small,
        otherwise a multipart upload (aborted if anything fails)."""
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            for block in blocks:
                buffer += block
                if len(buffer) >= PART_BYTES:
                    if upload_id is None:
                        with store_call("imports multipart start"):
                            upload_id = self._client.create_multipart_upload(
                                Bucket=self._bucket, Key=key, ContentType=content_type
                            )["UploadId"]
                    parts.append(self._part(key, upload_id, len(parts) + 1, bytes(buffer)))
                    buffer.clear()
            if upload_id is None:
                self.put(key, bytes(buffer), content_type)
                return
            if buffer or not parts:
                parts.append(self._part(key, upload_id, len(parts) + 1, bytes(buffer)))
            with store_call("imports multipart complete"):
                self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": cast(Any, parts)},
                )
        except BaseException:
            if upload_id is not None:
                with store_call("imports multipart abort"):
                    self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
            raise

    def _part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        with store_call("imports multipart part"):
            response = self._client.upload_part(
                Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def delete(self, key: str) -> None:
        with store_call("imports delete"):
            self._client.delete_object(Bucket=self._bucket, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        with store_call("imports delete"):
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self._client.delete_objects(
                        Bucket=self._bucket, Delete={"Objects": cast(Any, keys), "Quiet": True}
                    )
                    deleted += len(keys)
        return deleted
