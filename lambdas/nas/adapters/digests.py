"""Signed audit digests (R-AUDIT) in the evidence bucket, under Object Lock in compliance mode.

Keys are `audit-digests/<day>/<chain>/<digest_seq, 6 digits>.json`, so listing a chain's prefix
returns its digests in order. Each digest is written once (`If-None-Match: *`) with a compliance-mode
retention: before it ends nobody, the account's root user included, can delete or overwrite that
version. What versioning still allows, a later version or a delete marker over it, cannot hide it:
readers list versions and read each key's first, and report a key that has anything after it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from nas.adapters import StoreConflict, store_call
from nas.catalogue import AUDIT_DIGEST_PREFIX
from nas.domain.audit import MAX_DIGEST_SEQ, ChainId, DigestFormatError, SignedDigest, parse_signed_digest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_DIGEST_BYTES = 16 * 1024 * 1024
"""Far above a busy chain's 5 minutes (thousands of 64-character hashes); anything larger is refused."""
_DIGEST_NAME = re.compile(r"^(\d{6})\.json$")
_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})


@dataclass(frozen=True, slots=True)
class DigestRef:
    """A stored object under a chain's digest prefix: its first version, and whether anything was
    put over it since (a later version or a delete marker). `digest_seq` None when its name is not
    a digest's (reported, never skipped)."""

    key: str
    digest_seq: int | None
    version_id: str | None = None
    replaced: bool = False


class DigestStore(Protocol):
    def refs(self, chain: ChainId) -> list[DigestRef]: ...

    def read(self, ref: DigestRef) -> SignedDigest: ...

    def write(self, signed: SignedDigest, retain_until: datetime) -> None: ...


def digest_key(chain: ChainId, digest_seq: int, prefix: str = AUDIT_DIGEST_PREFIX) -> str:
    if not 1 <= digest_seq < MAX_DIGEST_SEQ:
        raise ValueError(f"digest_seq must be from 1 to {MAX_DIGEST_SEQ - 1}")
    return f"{prefix}{chain.day}/{chain.chain}/{digest_seq:06d}.json"


class S3DigestStore:
    def __init__(self, client: S3Client, bucket: str, prefix: str = AUDIT_DIGEST_PREFIX) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def refs(self, chain: ChainId) -> list[DigestRef]:
        """Every key under the chain's prefix, in digest order (keys not named as digests last),
        each with its first version (S3 lists a key's versions newest first)."""
        folder = f"{self._prefix}{chain.day}/{chain.chain}/"
        versions: dict[str, list[str]] = {}
        markers: set[str] = set()
        with store_call("audit digest list"):
            for page in self._client.get_paginator("list_object_versions").paginate(
                Bucket=self._bucket, Prefix=folder
            ):
                for version in page.get("Versions", []):
                    versions.setdefault(version["Key"], []).append(version["VersionId"])
                for marker in page.get("DeleteMarkers", []):
                    markers.add(marker["Key"])
        found: list[DigestRef] = []
        for key in sorted(versions.keys() | markers):
            match = _DIGEST_NAME.match(key[len(folder) :])
            held = versions.get(key, [])
            found.append(
                DigestRef(
                    key,
                    int(match.group(1)) if match else None,
                    version_id=held[-1] if held else None,
                    replaced=len(held) > 1 or key in markers,
                )
            )
        return sorted(found, key=lambda r: (r.digest_seq is None, r.digest_seq or 0, r.key))

    def read(self, ref: DigestRef) -> SignedDigest:
        """The first version at `ref`; DigestFormatError when it is not a well-formed digest."""
        if ref.version_id is None:
            raise DigestFormatError("only delete markers are left under this key")
        with store_call("audit digest read"):
            response = self._client.get_object(Bucket=self._bucket, Key=ref.key, VersionId=ref.version_id)
            if int(response.get("ContentLength", 0)) > MAX_DIGEST_BYTES:
                raise DigestFormatError(f"larger than {MAX_DIGEST_BYTES} bytes")
            raw = response["Body"].read(MAX_DIGEST_BYTES + 1)
        if len(raw) > MAX_DIGEST_BYTES:
            raise DigestFormatError(f"larger than {MAX_DIGEST_BYTES} bytes")
        try:
            document: Any = json.loads(raw)
        except (ValueError, RecursionError):
            raise DigestFormatError("not JSON") from None
        signed = parse_signed_digest(document)
        if ref.digest_seq is not None and signed.digest.digest_seq != ref.digest_seq:
            raise DigestFormatError(
                f"stored as digest {ref.digest_seq} but numbered {signed.digest.digest_seq}"
            )
        return signed

    def write(self, signed: SignedDigest, retain_until: datetime) -> None:
        """Stores `signed` once, locked in compliance mode until `retain_until`. StoreConflict when
        a digest already holds its key (another run wrote it)."""
        key = digest_key(signed.digest.chain, signed.digest.digest_seq, self._prefix)
        body = json.dumps(signed.document(), sort_keys=True, separators=(",", ":")).encode("utf-8")
        with store_call("audit digest write"):
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
                    raise StoreConflict(f"audit digest {key} already exists") from exc
                raise
