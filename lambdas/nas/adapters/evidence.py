"""Preserved copies in the evidence bucket (R-PRESERVE): every object written once under a legal hold
(Object Lock: no delete, not even by version, while it is on), with its SHA-256 checked by S3 on the
way in; released by taking the hold off and tagging the object, which the bucket's lifecycle rule for
released preservations then expires (docs/reads.md, "Preservations")."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from nas import catalogue
from nas.adapters import store_call

PARALLEL_PUTS = 16
"""Concurrent writes of a preservation's files (up to 3,001 objects: 1,000 reads, their images, the
manifest)."""

Held = tuple[str, bytes, str]
"""(key, body, content type) of an object to write under a legal hold."""


class EvidenceStore(Protocol):
    def put_held(self, key: str, body: bytes, content_type: str) -> str | None:
        """Writes a new object under a legal hold; returns its version id."""
        ...

    def put_many_held(self, objects: Sequence[Held]) -> list[str | None]:
        """`put_held` of each, in order."""
        ...

    def release(self, key: str) -> None:
        """Takes the legal hold off every version of the object and tags it released."""
        ...


class S3EvidenceStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put_held(self, key: str, body: bytes, content_type: str) -> str | None:
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
        with store_call("evidence PutObject (legal hold)"):
            response = self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                IfNoneMatch="*",  # a preservation's objects are new: never written over
                ObjectLockLegalHoldStatus="ON",
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,  # S3 refuses the write unless the bytes are these
            )
        version: str | None = response.get("VersionId")
        return version

    def put_many_held(self, objects: Sequence[Held]) -> list[str | None]:
        with ThreadPoolExecutor(max_workers=PARALLEL_PUTS) as pool:
            return list(pool.map(lambda held: self.put_held(*held), objects))

    def release(self, key: str) -> None:
        name, value = catalogue.PRESERVATION_RELEASED_TAG
        with store_call("evidence ListObjectVersions (release)"):
            listed = self._s3.list_object_versions(Bucket=self._bucket, Prefix=key)
        for version in listed.get("Versions", []):
            if version["Key"] != key:
                continue
            with store_call("evidence PutObjectLegalHold OFF"):
                self._s3.put_object_legal_hold(
                    Bucket=self._bucket, Key=key, VersionId=version["VersionId"], LegalHold={"Status": "OFF"}
                )
            with store_call("evidence PutObjectTagging (released)"):
                self._s3.put_object_tagging(
                    Bucket=self._bucket,
                    Key=key,
                    VersionId=version["VersionId"],
                    Tagging={"TagSet": [{"Key": name, "Value": value}]},
                )
