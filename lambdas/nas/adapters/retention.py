"""The S3 side of the R-RET-367 check: object versions listed one level at a time (so date
partitions can be skipped), versions deleted by id (a permanent delete, never a delete marker), and
the signed retention statements in the evidence bucket, written once under Object Lock."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from nas.adapters import StoreConflict, store_call
from nas.domain.retention import (
    SignedStatement,
    StatementFormatError,
    StoredVersion,
    parse_signed_statement,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DELETE_BATCH = 1000
"""DeleteObjects takes at most 1,000 keys (versions) a call."""
MAX_STATEMENT_BYTES = 4 * 1024 * 1024
_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})


class ObjectVersions(Protocol):
    def level(self, bucket: str, prefix: str) -> tuple[list[StoredVersion], list[str]]:
        """The versions of objects directly under `prefix` (delete markers left out: they hold no
        data), and the sub-prefixes one `/` further down, both in key order."""
        ...

    def delete(self, bucket: str, versions: Sequence[StoredVersion]) -> list[StoredVersion]:
        """Deletes each version by its id; returns those S3 refused to delete."""
        ...


class StatementStore(Protocol):
    def write(self, key: str, signed: SignedStatement, retain_until: datetime) -> None: ...

    def latest_key(self, day: str) -> str | None:
        """The key of `day`'s last statement, if any."""
        ...

    def read(self, key: str) -> SignedStatement: ...


class S3ObjectVersions:
    def __init__(self, client: S3Client) -> None:
        self._client = client

    def level(self, bucket: str, prefix: str) -> tuple[list[StoredVersion], list[str]]:
        versions: list[StoredVersion] = []
        children: list[str] = []
        with store_call("retention list versions"):
            for page in self._client.get_paginator("list_object_versions").paginate(
                Bucket=bucket, Prefix=prefix, Delimiter="/"
            ):
                versions.extend(
                    StoredVersion(
                        key=v["Key"],
                        version_id=v.get("VersionId"),
                        stored_at=v["LastModified"],
                        size=int(v.get("Size", 0)),
                        latest=bool(v.get("IsLatest", False)),
                    )
                    for v in page.get("Versions", [])
                )
                children.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
        return versions, sorted(children)

    def delete(self, bucket: str, versions: Sequence[StoredVersion]) -> list[StoredVersion]:
        by_id = {(v.key, v.version_id or "null"): v for v in versions}
        failed: list[StoredVersion] = []
        items = list(by_id.values())
        for start in range(0, len(items), DELETE_BATCH):
            batch = items[start : start + DELETE_BATCH]
            objects: list[Any] = [
                {"Key": v.key, "VersionId": v.version_id} if v.version_id else {"Key": v.key} for v in batch
            ]
            with store_call("retention delete versions"):
                response = self._client.delete_objects(
                    Bucket=bucket, Delete={"Objects": objects, "Quiet": True}
                )
            for error in response.get("Errors", []):
                failed.append(by_id[(error.get("Key", ""), error.get("VersionId") or "null")])
        return failed


class S3StatementStore:
    def __init__(self, client: S3Client, bucket: str, prefix: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def write(self, key: str, signed: SignedStatement, retain_until: datetime) -> None:
        body = json.dumps(signed.document(), sort_keys=True, separators=(",", ":")).encode("utf-8")
        with store_call("retention statement write"):
            try:
                self._client.put_object(
                    Bucket=self._bucket,
                    Key=key,
                    Body=body,
                    ContentType="application/json",
                    IfNoneMatch="*",
                    ObjectLockMode="COMPLIANCE",
                    ObjectLockRetainUntilDate=retain_until,
                    ChecksumAlgorithm="SHA256",  # Object Lock writes need an integrity checksum
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in _CONFLICT_CODES:
                    raise StoreConflict(f"retention statement {key} already exists") from exc
                raise

    def latest_key(self, day: str) -> str | None:
        keys: list[str] = []
        with store_call("retention statement list"):
            for page in self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=f"{self._prefix}{day}/"
            ):
                keys.extend(o["Key"] for o in page.get("Contents", []))
        return max(keys, default=None)

    def read(self, key: str) -> SignedStatement:
        with store_call("retention statement read"):
            response = self._client.get_object(Bucket=self._bucket, Key=key)
            raw = response["Body"].read(MAX_STATEMENT_BYTES + 1)
        if len(raw) > MAX_STATEMENT_BYTES:
            raise StatementFormatError(f"larger than {MAX_STATEMENT_BYTES} bytes")
        try:
            document: Any = json.loads(raw)
        except (ValueError, RecursionError):
            raise StatementFormatError("not JSON") from None
        return parse_signed_statement(document)


@dataclass
class InMemoryObjectVersions:
    """Versions by bucket, with whatever ages a test gives them."""

    versions: dict[str, list[StoredVersion]] = field(default_factory=dict)
    refuse: set[str] = field(default_factory=set)
    """Keys whose deletion fails."""
    listed: list[str] = field(default_factory=list)
    """Every prefix listed, in order (what the check read)."""

    def level(self, bucket: str, prefix: str) -> tuple[list[StoredVersion], list[str]]:
        self.listed.append(prefix)
        here = [v for v in self.versions.get(bucket, []) if v.key.startswith(prefix)]
        direct = [v for v in here if "/" not in v.key[len(prefix) :]]
        children = {prefix + v.key[len(prefix) :].split("/")[0] + "/" for v in here if v not in direct}
        return sorted(direct, key=lambda v: v.key), sorted(children)

    def delete(self, bucket: str, versions: Sequence[StoredVersion]) -> list[StoredVersion]:
        failed = [v for v in versions if v.key in self.refuse]
        gone = {(v.key, v.version_id) for v in versions if v.key not in self.refuse}
        self.versions[bucket] = [
            v for v in self.versions.get(bucket, []) if (v.key, v.version_id) not in gone
        ]
        return failed
