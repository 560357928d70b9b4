"""Keys and shared attributes of the voi table (docs/data-model.md): every kind of item it holds
and the state item's codec, for the single-entry, match-path and list adapters alike."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from nas.domain.voi_lists import Claim, ListGeneration, ListSource, ListState
from nas.observability import logger

MATCH_RECORD = "MATCH"
ENTRY_PREFIX = "ENTRY#"
STATE_KEY = {"vrm": "#VOI", "record": "STATE"}
DIRECTORY_SHARDS = 64
"""The singles directory is this many items (a String Set of VRMs each): a write touches one, and
the match path re-reads only the ones whose version moved."""
STATE_TTL_S = 5.0
"""How long the match path trusts its copy of the state item: a new single entry matches, and a
replaced list stops matching, within this long (R-VOI-BULK asks for one minute)."""
BUCKET_CACHE = 2048
"""Bucket items a match environment keeps (about 3 KB each); generations never change once written."""
Key = Mapping[str, str]


def directory_key(shard: int) -> dict[str, str]:
    return {"vrm": f"#SINGLES#{shard:02d}", "record": "DIRECTORY"}


def shard_of(vrm: str) -> int:
    return zlib.crc32(vrm.encode("ascii")) % DIRECTORY_SHARDS


def bucket_key(import_id: str, bucket: int) -> dict[str, str]:
    return {"vrm": f"#LIST#{import_id}#{bucket}", "record": "ROWS"}


def segment_key(import_id: str, group: int) -> dict[str, str]:
    return {"vrm": f"#LIST#{import_id}#F{group}", "record": "FILTER"}


def match_key(vrm: str) -> dict[str, str]:
    return {"vrm": vrm, "record": MATCH_RECORD}


def entry_key(vrm: str, voi_id: str) -> dict[str, str]:
    return {"vrm": vrm, "record": f"{ENTRY_PREFIX}{voi_id}"}


def key_of(item: Mapping[str, Any]) -> tuple[str, str]:
    return str(item["vrm"]), str(item["record"])


def raw_bytes(value: Any) -> bytes:
    """A binary attribute as bytes (boto3 deserialises them as `Binary`)."""
    return bytes(value)  # `Binary` converts itself


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def active_attribute(source: ListSource) -> str:
    return f"active_{source.value}"


def claim_attribute(source: ListSource) -> str:
    return f"claim_{source.value}"


def singles_attribute(shard: int) -> str:
    return f"singles_{shard:02d}"


def decode_state(item: Mapping[str, Any] | None) -> tuple[ListState, dict[int, int]]:
    """The list state and the singles directory's shard versions held by the state item."""
    item = item or {}
    active: dict[ListSource, ListGeneration] = {}
    claims: dict[ListSource, Claim] = {}
    for source in ListSource:
        raw = item.get(active_attribute(source))
        if isinstance(raw, str):
            try:
                active[source] = ListGeneration.model_validate_json(raw)
            except ValidationError as exc:
                logger.error("invalid active list generation", extra={"source": source, "error": str(exc)})
        claim = item.get(claim_attribute(source))
        if isinstance(claim, Mapping):
            claims[source] = Claim(import_id=str(claim["import_id"]), order=str(claim["order"]))
    versions = {s: int(item.get(singles_attribute(s), 0)) for s in range(DIRECTORY_SHARDS)}
    return ListState(active=active, claims=claims), versions
