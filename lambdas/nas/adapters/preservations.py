"""The preservations table (R-PRESERVE, docs/data-model.md): a `MANIFEST` item per preservation (who,
when, why, case, search, counts, the manifest's SHA-256, and once released who, when and why) and one
`READ#<n>` item per preserved read (its VRM, for erasure requests: R-SAR). Items are written in
transactions of 100 and never deleted; only the release attributes are ever updated."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from nas import catalogue
from nas.adapters import StoreConflict, store_call
from nas.adapters.dynamo import query_items, to_item
from nas.batching import chunks
from nas.domain.preservations import (
    FileKind,
    Preservation,
    PreservedFile,
    PreservedRead,
    SourceSearch,
)
from nas.domain.timefmt import iso_utc

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MANIFEST = catalogue.PRESERVATION_MANIFEST
TRANSACTION_ITEMS = 100


class AlreadyReleased(StoreConflict):
    """The preservation was released (by someone else) meanwhile."""


class PreservationStore(Protocol):
    def put(self, preservation: Preservation) -> None: ...

    def get(self, preservation_id: str) -> Preservation | None: ...

    def by_case(self, case_ref: str) -> list[Preservation]:
        """Preservations of a case, newest first, without their reads."""
        ...

    def holding_vrm(self, vrm: str) -> list[str]:
        """Ids of the preservations holding a read of this (effective) VRM."""
        ...

    def release(self, preservation_id: str, *, at: datetime, by: str, reason: str) -> None: ...


def _read_item(preservation_id: str, read: PreservedRead) -> dict[str, Any]:
    return {
        "preservation_id": preservation_id,
        "item": f"READ#{read.n:04d}",
        "n": read.n,
        "read_id": read.read_id,
        "camera_id": read.camera_id,
        "preserved_vrm": read.vrm,
        "original_vrm": read.original_vrm,
        "captured_at": iso_utc(read.captured_at),
        "files": json.dumps(
            [
                {
                    "kind": f.kind.value,
                    "key": f.key,
                    "sha256": f.sha256,
                    "bytes": f.bytes,
                    "version_id": f.version_id,
                }
                for f in read.files
            ],
            separators=(",", ":"),
        ),
    }


def _manifest_item(p: Preservation) -> dict[str, Any]:
    return {
        "preservation_id": p.preservation_id,
        "item": MANIFEST,
        "case_ref": p.case_ref,
        "reason": p.reason,
        "created_by": p.created_by,
        "created_lea": p.created_lea,
        "created_at": iso_utc(p.created_at),
        "search_id": p.search.search_id,
        "search_purpose": p.search.purpose,
        "search_reason": p.search.reason,
        "search_case_ref": p.search.case_ref,
        "read_count": len(p.reads),
        "file_count": p.files,
        "manifest_sha256": p.manifest_sha256,
    }


def _preservation(manifest: dict[str, Any], reads: list[dict[str, Any]]) -> Preservation:
    released = manifest.get("released_at")
    return Preservation(
        preservation_id=manifest["preservation_id"],
        case_ref=manifest["case_ref"],
        reason=manifest["reason"],
        created_by=manifest["created_by"],
        created_lea=manifest["created_lea"],
        created_at=datetime.fromisoformat(manifest["created_at"]),
        search=SourceSearch(
            manifest["search_id"],
            manifest["search_purpose"],
            manifest["search_reason"],
            manifest["search_case_ref"],
        ),
        reads=tuple(
            PreservedRead(
                n=int(r["n"]),
                read_id=r["read_id"],
                camera_id=r["camera_id"],
                vrm=r["preserved_vrm"],
                original_vrm=r["original_vrm"],
                captured_at=datetime.fromisoformat(r["captured_at"]),
                files=tuple(
                    PreservedFile(
                        FileKind(f["kind"]), f["key"], f["sha256"], int(f["bytes"]), f.get("version_id")
                    )
                    for f in json.loads(r["files"])
                ),
            )
            for r in sorted(reads, key=lambda r: int(r["n"]))
        ),
        manifest_sha256=manifest.get("manifest_sha256"),
        released_at=datetime.fromisoformat(released) if released else None,
        released_by=manifest.get("released_by"),
        release_reason=manifest.get("release_reason"),
        counts=(int(manifest.get("read_count", 0)), int(manifest.get("file_count", 0))),
    )


class InMemoryPreservationStore:
    def __init__(self) -> None:
        self.preservations: dict[str, Preservation] = {}

    def put(self, preservation: Preservation) -> None:
        self.preservations[preservation.preservation_id] = preservation

    def get(self, preservation_id: str) -> Preservation | None:
        return self.preservations.get(preservation_id)

    def by_case(self, case_ref: str) -> list[Preservation]:
        found = [p for p in self.preservations.values() if p.case_ref == case_ref]
        return sorted(found, key=lambda p: p.created_at, reverse=True)

    def holding_vrm(self, vrm: str) -> list[str]:
        return sorted(
            p.preservation_id for p in self.preservations.values() if any(r.vrm == vrm for r in p.reads)
        )

    def release(self, preservation_id: str, *, at: datetime, by: str, reason: str) -> None:
        current = self.preservations[preservation_id]
        if current.released:
            raise AlreadyReleased(preservation_id)
        self.preservations[preservation_id] = replace(
            current, released_at=at, released_by=by, release_reason=reason
        )


class DynamoPreservationStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def put(self, preservation: Preservation) -> None:
        """The reads' items first, the manifest item last: a preservation is listed only once whole."""
        items = [_read_item(preservation.preservation_id, r) for r in preservation.reads]
        for chunk in chunks(items, TRANSACTION_ITEMS):
            self._transact(list(chunk))
        self._transact([_manifest_item(preservation)])

    def _transact(self, items: list[dict[str, Any]]) -> None:
        with store_call("preservations TransactWriteItems"):
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item(item),
                            "ConditionExpression": "attribute_not_exists(preservation_id)",
                        }
                    }
                    for item in items
                ]
            )

    def get(self, preservation_id: str) -> Preservation | None:
        request = {
            "TableName": self._table,
            "KeyConditionExpression": "preservation_id = :p",
            "ExpressionAttributeValues": to_item({":p": preservation_id}),
            "ConsistentRead": True,
        }
        with store_call("preservations Query"):
            items = list(query_items(self._client, request))
        manifest = next((i for i in items if i["item"] == MANIFEST), None)
        if manifest is None:
            return None
        return _preservation(manifest, [i for i in items if i["item"] != MANIFEST])

    def by_case(self, case_ref: str) -> list[Preservation]:
        request = {
            "TableName": self._table,
            "IndexName": "by-case",
            "KeyConditionExpression": "case_ref = :c",
            "ExpressionAttributeValues": to_item({":c": case_ref}),
            "ScanIndexForward": False,
        }
        with store_call("preservations Query by-case"):
            return [
                _preservation(i, []) for i in query_items(self._client, request) if i.get("item") == MANIFEST
            ]

    def holding_vrm(self, vrm: str) -> list[str]:
        request = {
            "TableName": self._table,
            "IndexName": "by-vrm",
            "KeyConditionExpression": "preserved_vrm = :v",
            "ExpressionAttributeValues": to_item({":v": vrm}),
        }
        with store_call("preservations Query by-vrm"):
            return sorted({i["preservation_id"] for i in query_items(self._client, request)})

    def release(self, preservation_id: str, *, at: datetime, by: str, reason: str) -> None:
        with store_call("preservations UpdateItem (release)"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=to_item({"preservation_id": preservation_id, "item": MANIFEST}),
                    UpdateExpression="SET released_at = :at, released_by = :by, release_reason = :why",
                    ConditionExpression=(
                        "attribute_exists(preservation_id) AND attribute_not_exists(released_at)"
                    ),
                    ExpressionAttributeValues=to_item({":at": iso_utc(at), ":by": by, ":why": reason}),
                )
            except self._client.exceptions.ConditionalCheckFailedException:
                raise AlreadyReleased(preservation_id) from None


__all__ = ["AlreadyReleased", "DynamoPreservationStore", "InMemoryPreservationStore", "PreservationStore"]
