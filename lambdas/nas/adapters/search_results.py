"""Kept search results: the rows of a finished search as one JSON document in the Athena results bucket
(which expires everything in it after a day: SPEC §4), read back page by page. At most 1,000 rows
(R-LIMIT), a few hundred KB: one GetObject serves any page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from nas.adapters import store_call
from nas.domain.layout import ReadRef
from nas.domain.search import ConvoyHit, Hit, ReadHit, SearchType, Sighting
from nas.domain.timefmt import iso_utc

DOCUMENT_SCHEMA = "nas.search-result.v1"


@dataclass(frozen=True, slots=True)
class StoredResult:
    search_type: SearchType
    hits: list[Hit]
    truncated: bool


class ResultStore(Protocol):
    def put(self, key: str, result: StoredResult) -> None: ...

    def get(self, key: str) -> StoredResult | None:
        """The stored result, or None once it has expired (or was never stored)."""
        ...


def _hit_document(hit: Hit) -> dict[str, Any]:
    if isinstance(hit, ConvoyHit):
        return {
            "vrm": hit.vrm,
            "sightings": hit.sightings,
            "supporting_reads": hit.supporting_reads,
            "reads": [
                {
                    "read_id": s.read_id,
                    "camera_id": s.camera_id,
                    "at": iso_utc(s.captured_at),
                    "ref": s.ref.encode(),
                }
                for s in hit.reads
            ],
        }
    return {
        "read_id": hit.read_id,
        "vrm": hit.vrm,
        "at": iso_utc(hit.captured_at),
        "camera_id": hit.camera_id,
        "lea": hit.lea,
        "lat": hit.lat,
        "lon": hit.lon,
        "direction": hit.direction,
        "confidence": hit.confidence,
        "ref": hit.ref.encode(),
        "corrected": hit.corrected,
    }


def _hit_of(search_type: SearchType, doc: dict[str, Any]) -> Hit:
    if search_type is SearchType.CONVOY:
        return ConvoyHit(
            vrm=doc["vrm"],
            sightings=doc["sightings"],
            supporting_reads=doc["supporting_reads"],
            reads=tuple(
                Sighting(
                    s["read_id"], s["camera_id"], datetime.fromisoformat(s["at"]), ReadRef.decode(s["ref"])
                )
                for s in doc["reads"]
            ),
        )
    return ReadHit(
        read_id=doc["read_id"],
        vrm=doc["vrm"],
        captured_at=datetime.fromisoformat(doc["at"]),
        camera_id=doc["camera_id"],
        lea=doc["lea"],
        lat=doc["lat"],
        lon=doc["lon"],
        direction=doc["direction"],
        confidence=doc["confidence"],
        ref=ReadRef.decode(doc["ref"]),
        corrected=doc["corrected"],
    )


def encode(result: StoredResult) -> bytes:
    return json.dumps(
        {
            "schema": DOCUMENT_SCHEMA,
            "type": result.search_type.value,
            "truncated": result.truncated,
            "rows": [_hit_document(h) for h in result.hits],
        },
        separators=(",", ":"),
    ).encode()


def decode(body: bytes) -> StoredResult:
    doc = json.loads(body)
    if doc.get("schema") != DOCUMENT_SCHEMA:
        raise ValueError("not a search result document")
    search_type = SearchType(doc["type"])
    return StoredResult(search_type, [_hit_of(search_type, row) for row in doc["rows"]], doc["truncated"])


class InMemoryResultStore:
    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}

    def put(self, key: str, result: StoredResult) -> None:
        self.documents[key] = encode(result)

    def get(self, key: str) -> StoredResult | None:
        body = self.documents.get(key)
        return decode(body) if body is not None else None


class S3ResultStore:
    """Documents under `prefix` in the (KMS-encrypted, one-day) Athena results bucket."""

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix

    def put(self, key: str, result: StoredResult) -> None:
        with store_call("put search result"):
            self._s3.put_object(
                Bucket=self._bucket,
                Key=self._prefix + key,
                Body=encode(result),
                ContentType="application/json",
            )

    def get(self, key: str) -> StoredResult | None:
        with store_call("get search result"):
            try:
                body = self._s3.get_object(Bucket=self._bucket, Key=self._prefix + key)["Body"].read()
            except self._s3.exceptions.NoSuchKey:
                return None
        return decode(body)
