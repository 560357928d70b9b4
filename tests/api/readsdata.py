"""A search API over stored reads with packed images, for the read, preservation and subject-request
tests: reads written by the production row and sink code into a local directory (searched by the
DuckDB engine, read back by reference and erased by the Parquet adapters), their image packs put on
the moto reads bucket as archive puts them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pyarrow.fs as pafs

from nas.adapters.cameras import DynamoCameraRegistry
from nas.adapters.duckdb_search import DuckDbSearchEngine
from nas.adapters.images import S3ImageStore
from nas.adapters.parquet_erasure import NoVersions, ParquetReadEraser
from nas.adapters.parquet_reads import ParquetReadStore
from nas.api import wiring
from nas.domain.packing import ImagePack
from nas.settings import settings
from tests.api.conftest import READS_BUCKET, REGION, TABLE_NAMES, ApiAccount, Reply, claims
from tests.searchdata import CAMERAS, DirectoryS3, StoredRead, store

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
IVY = claims("ivy", "investigator", "KENT")
IAN = claims("ian", "investigator", "KENT")
OLLY = claims("olly", "senior-investigator", "KENT")
ESME = claims("esme", "senior-investigator", "ESSEX")
DORA = claims("dora", "dpo", "NATIONAL")
CASE = "KENT-2026-001234"
REASON = "Burglary enquiry, suspect vehicle"
GROUPS = ("investigator", "senior-investigator", "authoriser", "voi-manager", "operator", "auditor", "dpo")


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def jpeg(label: str, size: int = 600) -> bytes:
    """Bytes shaped like a JPEG (SOI ... EOI), distinct per label."""
    body = (label.encode() * size)[:size]
    return b"\xff\xd8\xff\xe0" + body + b"\xff\xd9"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ReadsApi:
    api: ApiAccount
    root: Path
    clock: Clock

    def store(self, *reads: StoredRead, images: bool = True) -> dict[str, dict[str, bytes]]:
        """Stores `reads`; with `images`, packs a plate and an overview of each into one pack on the
        reads bucket, as archive does. Returns each read's image bytes by kind."""
        posted: dict[str, dict[str, bytes]] = {}
        if images:
            n = len(list(self.root.rglob("*")))
            pack = ImagePack(f"images/day={NOW.date().isoformat()}/pack-{n}.bin")
            packed = []
            for read in reads:
                plate, overview = jpeg(f"plate:{read.read_id}:"), jpeg(f"overview:{read.read_id}:", 2500)
                posted[read.read_id] = {"plate": plate, "overview": overview}
                packed.append(replace(read, plate=pack.add(plate), overview=pack.add(overview)))
            reads = tuple(packed)
            s3 = boto3.client("s3", region_name=REGION)
            s3.put_object(Bucket=READS_BUCKET, Key=pack.key, Body=pack.body())
        store(DirectoryS3(self.root), "reads", list(reads))
        return posted

    def search(self, criteria: dict[str, Any], who: dict[str, str] = IVY, **why: Any) -> dict[str, Any]:
        """Runs a search and returns its first page with its id (asserting it was accepted)."""
        request = {
            "from": rfc3339(ago(days=30)),
            "to": rfc3339(NOW),
            "investigation_level": "priority-volume",
            "purpose": "crime",
            "reason": REASON,
            "case_ref": CASE,
        }
        reply = self.api.call("POST", "/searches", who, body=request | why | criteria)
        assert reply.status == 202, reply.body
        page = self.api.call("GET", f"/searches/{reply.body['search_id']}", who)
        assert page.status == 200, page.body
        return dict(page.body) | {"search_id": reply.body["search_id"]}

    def vrm_search(self, vrm: str, who: dict[str, str] = IVY) -> dict[str, Any]:
        return self.search({"type": "vrm", "vrm": vrm}, who)

    def view(self, read_id: str, search_id: str, who: dict[str, str] = IVY) -> Reply:
        return self.api.call("GET", f"/reads/{read_id}", who, query={"search_id": search_id})

    def image(self, read_id: str, kind: str, search_id: str, who: dict[str, str] = IVY) -> Reply:
        return self.api.call("GET", f"/reads/{read_id}/images/{kind}", who, query={"search_id": search_id})

    def correct(
        self, read_id: str, search_id: str, vrm: str, who: dict[str, str] = IVY, **extra: Any
    ) -> Reply:
        body = {"search_id": search_id, "vrm": vrm, "reason": "Plate re-read from the image: 8 is a B"}
        return self.api.call("POST", f"/reads/{read_id}/corrections", who, body=body | extra)


def ids(page: dict[str, Any]) -> list[str]:
    return [row["read_id"] for row in page["rows"]]


def reads_fixture(api: ApiAccount, tmp_path: Path) -> Iterator[ReadsApi]:
    """The `reads_api` fixture (tests/api/conftest.py)."""
    clock = Clock()
    filesystem = pafs.LocalFileSystem()
    root = str(tmp_path)
    s3 = boto3.client("s3", region_name=REGION)
    wiring.install(
        wiring.build_services(
            settings(),
            clock=clock,
            engine=DuckDbSearchEngine(filesystem, root),
            reads=ParquetReadStore(filesystem, root),
            eraser=ParquetReadEraser(
                filesystem, root, versions=NoVersions(), packs=S3ImageStore(s3, READS_BUCKET)
            ),
        )
    )
    DynamoCameraRegistry(api.dynamodb, TABLE_NAMES["cameras"]).put_many(CAMERAS)
    yield ReadsApi(api, tmp_path, clock)
    wiring.reset()
