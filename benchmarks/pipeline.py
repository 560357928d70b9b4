"""`make bench`: the read pipeline's cost per read, against parsing the same bytes with orjson alone.

200,000 realistic reads (plate ~3 KB, overview ~25 KB, base64 in JSON, ~37 KB a record) go through
the match path against a 1,000,000-entry VOI set (three bulk lists, single entries and a white list,
laid out as the voi table holds them) behind the in-memory table, and through the
archive path with in-memory sinks, in batches of 500 as Lambda receives them. The same payloads go
through `orjson.loads` alone in the same run. Generation is not timed. Figures print as name=value.

Targets (issue 3): match_vs_parse_ratio <= 3 (stretch 1.5), voi_lookup_calls_per_1000_reads <= 10,
archive_vs_parse_ratio <= 5.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import random
import resource
import string
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson

from nas.adapters.alerts import InMemoryAlertStore
from nas.adapters.cameras import InMemoryCameraRegistry
from nas.adapters.events import InMemoryAlertPublisher
from nas.adapters.voi_match import InMemoryVoiStore
from nas.domain.leas import NATIONAL, lea_codes
from nas.domain.models import Camera, CameraSource, VoiAction, VoiEntry, VoiSource
from nas.domain.policy import voi_expires_at, voi_review_due_at
from nas.domain.voi_lists import ListGeneration, ListSource
from nas.domain.voi_packing import bucket_count_for, group_count_for
from nas.pipeline.archive import ArchiveService
from nas.pipeline.match import MatchService
from nas.pipeline.records import StreamRecord

BATCH = 500
JPEG_START, JPEG_END = b"\xff\xd8\xff\xe0", b"\xff\xd9"


class DiscardingObjectStore:
    """Counts what would be PUT (keeping 200,000 reads' images would measure memory, not code)."""

    def __init__(self) -> None:
        self.puts = 0
        self.bytes = 0

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self.puts += 1
        self.bytes += len(body)


class CountingRowSink:
    def __init__(self) -> None:
        self.rows = 0

    def put_rows(self, rows: list[bytes]) -> set[int]:  # type: ignore[override]
        self.rows += len(rows)
        return set()


def uk_vrm(rng: random.Random) -> str:
    letters = string.ascii_uppercase
    return (
        rng.choice(letters)
        + rng.choice(letters)
        + f"{rng.randrange(2, 75):02d}"
        + "".join(rng.choices(letters, k=3))
    )


def image(rng: random.Random, size: int) -> str:
    body = JPEG_START + rng.randbytes(size - len(JPEG_START) - len(JPEG_END)) + JPEG_END
    return base64.b64encode(body).decode("ascii")


def voi_set(rng: random.Random, size: int, now: datetime) -> tuple[InMemoryVoiStore, list[str]]:
    """`size` entries laid out as the voi table holds them: DVLA, MIB and PNC bulk lists (one
    generation each, as an import builds it) and single local entries, plus a white list. Built
    without validation (the code under test is the match path, not the loader); a few entries are
    circulated to one force only."""
    store = InMemoryVoiStore(clock=lambda: now)
    revised = now - timedelta(days=3)
    vrms = [uk_vrm(rng) for _ in range(size)]
    lists = {ListSource.DVLA: vrms[0::4], ListSource.MIB: vrms[1::4], ListSource.PNC: vrms[2::4]}
    for source, listed in lists.items():
        groups = group_count_for(len(listed))
        generation = ListGeneration(
            source=source,
            import_id=f"bench-{source.value}",
            buckets=bucket_count_for(len(listed), groups),
            groups=groups,
            rows=len(listed),
            revised_at=revised,
            owner_lea=NATIONAL,
            requested_by="bench",
        )
        store.put_list(
            generation,
            (
                [vrm, "no-tax", "report", 3, "Bulk list row", None, [NATIONAL] if i % 10 else ["KENT"], False]
                for i, vrm in enumerate(listed)
            ),
        )
    for i, vrm in enumerate(vrms[3::4]):
        store.put(
            VoiEntry.model_construct(
                voi_id=f"voi-{i}",
                vrm=vrm,
                source=VoiSource.LOCAL,
                category="intelligence",
                action=VoiAction.REPORT,
                priority=3,
                reason="Local entry",
                pnc_ref=None,
                circulation=(NATIONAL,) if i % 10 else ("KENT",),
                owner_lea="KENT",
                sensitive=False,
                created_by="bench",
                created_at=revised,
                last_revised_at=revised,
                review_due_at=voi_review_due_at(revised),
                expires_at=voi_expires_at(revised),
            )
        )
    white = vrms[::97]
    store.put_list(
        ListGeneration(
            source=ListSource.WHITELIST,
            import_id="bench-whitelist",
            buckets=bucket_count_for(len(white), 1),
            groups=1,
            rows=len(white),
            revised_at=revised,
            owner_lea=NATIONAL,
            requested_by="bench",
        ),
        ([vrm] for vrm in white),
    )
    return store, vrms


def cameras(rng: random.Random, count: int) -> list[Camera]:
    leas = sorted(lea_codes())
    return [
        Camera(
            camera_id=f"CAM-{i:05d}",
            lea=leas[i % len(leas)],
            lat=rng.uniform(50.0, 58.0),
            lon=rng.uniform(-5.0, 1.5),
            source=CameraSource.STATIC,
            active=True,
        )
        for i in range(count)
    ]


def batches(
    rng: random.Random, total: int, fleet: list[Camera], hit_vrms: list[str], hit_rate: float, now: datetime
) -> Iterator[list[StreamRecord]]:
    plates = [image(rng, 3_000) for _ in range(32)]
    overviews = [image(rng, 25_000) for _ in range(32)]
    sequence = 0
    while sequence < total:
        batch = []
        for _ in range(min(BATCH, total - sequence)):
            sequence += 1
            camera = rng.choice(fleet)
            vrm = rng.choice(hit_vrms) if rng.random() < hit_rate else uk_vrm(rng)
            captured = now - timedelta(seconds=rng.uniform(0.5, 5))
            payload = {
                "schema": "nas.read.v1",
                "read_id": f"{camera.camera_id}:{sequence}",
                "vrm": f"{vrm[:4]} {vrm[4:]}",
                "captured_at": captured.isoformat().replace("+00:00", "Z"),
                "camera_id": camera.camera_id,
                "lea": camera.lea,
                "source": "static",
                "direction": "N",
                "lane": 1,
                "confidence": rng.randrange(60, 100),
                "plate_image": rng.choice(plates),
                "overview_image": rng.choice(overviews),
            }
            batch.append(
                StreamRecord(
                    sequence_number=f"{sequence:056d}",
                    partition_key=camera.camera_id,
                    shard_id="shardId-000000000000",
                    data=json.dumps(payload).encode(),
                    arrived_at=now,
                )
            )
        yield batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reads", type=int, default=200_000)
    parser.add_argument("--voi-entries", type=int, default=1_000_000)
    parser.add_argument("--cameras", type=int, default=18_000)
    parser.add_argument("--hit-rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    started = time.perf_counter()
    voi, vrms = voi_set(rng, args.voi_entries, now)
    fleet = cameras(rng, args.cameras)
    registry = InMemoryCameraRegistry(fleet)
    print(f"setup_s={time.perf_counter() - started:.1f}", flush=True)

    alerts, publisher = InMemoryAlertStore(), InMemoryAlertPublisher()
    match = MatchService(cameras=registry, voi=voi, alerts=alerts, publisher=publisher)
    objects, rows = DiscardingObjectStore(), CountingRowSink()
    archive = ArchiveService(
        cameras=registry, objects=objects, rows=rows, reads_bucket="reads", quarantine_bucket="quarantine"
    )

    parse_s = match_s = archive_s = 0.0
    reads = payload_bytes = skipped = raised = 0
    gc.collect()
    for batch in batches(rng, args.reads, fleet, vrms, args.hit_rate, now):
        reads += len(batch)
        payload_bytes += sum(len(r.data) for r in batch)
        t0 = time.perf_counter()
        for record in batch:
            orjson.loads(record.data)
        t1 = time.perf_counter()
        matched = match.process(batch, now=now)
        t2 = time.perf_counter()
        archived = archive.process(batch, now=now)
        t3 = time.perf_counter()
        parse_s += t1 - t0
        match_s += t2 - t1
        archive_s += t3 - t2
        skipped += sum(matched.skipped_invalid.values()) + sum(archived.quarantined.values())
        raised += len(matched.alerts_raised)

    if skipped or rows.rows != reads:
        print(
            f"error: {skipped} reads refused, {rows.rows} rows of {reads}: the benchmark data is wrong",
            file=sys.stderr,
        )
        return 1
    parse_us = parse_s / reads * 1e6
    match_us = match_s / reads * 1e6
    archive_us = archive_s / reads * 1e6
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    figures = {
        "reads": reads,
        "voi_entries": args.voi_entries,
        "mean_record_bytes": payload_bytes // reads,
        "alerts_raised": raised,
        "parse_only_us_per_read": f"{parse_us:.1f}",
        "match_us_per_read": f"{match_us:.1f}",
        "match_vs_parse_ratio": f"{match_us / parse_us:.2f}",
        "voi_lookup_calls_per_1000_reads": f"{voi.lookup_calls / reads * 1000:.2f}",
        "archive_us_per_read": f"{archive_us:.1f}",
        "archive_vs_parse_ratio": f"{archive_us / parse_us:.2f}",
        "image_pack_puts_per_1000_reads": f"{objects.puts / reads * 1000:.2f}",
        "peak_rss_mib": f"{peak_mib:.0f}",
    }
    for name, value in figures.items():
        print(f"{name}={value}")
    targets_met = (
        match_us / parse_us <= 3 and voi.lookup_calls / reads * 1000 <= 10 and archive_us / parse_us <= 5
    )
    print(f"targets_met={str(targets_met).lower()}")
    return 0 if targets_met else 1


if __name__ == "__main__":
    sys.exit(main())
