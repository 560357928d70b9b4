"""`make bench-storage`: measured sizes of what the archive consumer stores, which choose the reads
bucket's storage classes (infra/constructs/storage.py).

Realistic reads from `nas simulate`'s generator (plate ~3 KB in 95 % of reads, overview ~25 KB in
80 %, the default mix of bad, late and duplicate records) go through the archive consumer
(`ArchiveService`, in-memory sinks) in batches as its event source mapping delivers them: whatever a
shard receives in the 30 s batching window, at most 500 records and 6 MB of event payload. A pack is
one S3 object per batch. The rows of a simulated 100,000 reads are written as Parquet (SNAPPY, the
Glue schema) to measure bytes per row.

Prints `name=value`: pack sizes at several per-shard rates, the smallest rate whose packs all clear
S3's 128 KB minimum object size of the infrequent-access classes, and Parquet bytes per row.
"""

from __future__ import annotations

import argparse
import random
import statistics
from datetime import UTC, datetime

import orjson

from nas.adapters.cameras import InMemoryCameraRegistry
from nas.adapters.firehose import InMemoryRowSink
from nas.adapters.objects import InMemoryObjectStore
from nas.cli.simulate import ReadGenerator, ReadMix
from nas.local.demo import CAMERAS
from nas.local.sink import parquet_bytes
from nas.pipeline.archive import ArchiveService
from nas.pipeline.records import StreamRecord

WINDOW_S = 30
MAX_RECORDS = 500
MAX_PAYLOAD = 6 * 1024 * 1024
IA_MINIMUM = 128 * 1024
RATES = (0.1, 0.2, 0.5, 1.0, 3.0, 10.0, 30.0)
"""Reads per second arriving at one shard (18,000 cameras and 90 million reads a day on 100 to 400
shards put a busy hour at 3 to 30 a shard, a quiet night hour well under 1)."""


def batches(generator: ReadGenerator, rate: float, count: int) -> list[list[StreamRecord]]:
    """`count` batches of what one shard receives in a 30 s window at `rate`, capped as Lambda caps."""
    now = datetime.now(UTC)
    made: list[list[StreamRecord]] = []
    sequence = 0
    for _ in range(count):
        batch: list[StreamRecord] = []
        payload = 0
        for _ in range(max(1, round(rate * WINDOW_S))):
            record = generator.next_record()
            size = len(record.data) * 4 // 3 + 200  # base64 in the event, and its envelope
            if len(batch) == MAX_RECORDS or payload + size > MAX_PAYLOAD:
                break
            sequence += 1
            payload += size
            batch.append(
                StreamRecord(
                    sequence_number=f"{sequence:056d}",
                    partition_key=record.partition_key,
                    shard_id="shardId-000000000000",
                    data=record.data,
                    arrived_at=now,
                )
            )
        made.append(batch)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=40, help="batches per rate")
    parser.add_argument("--rows", type=int, default=100_000, help="reads whose rows are written as Parquet")
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args(argv)

    now = datetime.now(UTC)
    rng = random.Random(args.seed)
    generator = ReadGenerator(CAMERAS, [], rng, lambda: datetime.now(UTC), mix=ReadMix())
    registry = InMemoryCameraRegistry(CAMERAS)
    clearing: float | None = None
    for rate in RATES:
        objects = InMemoryObjectStore()
        archive = ArchiveService(
            cameras=registry,
            objects=objects,
            rows=InMemoryRowSink(),
            reads_bucket="reads",
            quarantine_bucket="q",
        )
        per_batch = []
        for batch in batches(generator, rate, args.batches):
            archive.process(batch, now=now)
            per_batch.append(len(batch))
        packs = sorted(
            len(body) for (bucket, key), body in objects.objects.items() if key.endswith(".jpgpack")
        )
        name = f"rate_{rate:g}".replace(".", "_")
        print(f"{name}_reads_per_batch={statistics.median(per_batch):g}")
        print(f"{name}_pack_kb_min={packs[0] / 1024:.0f}")
        print(f"{name}_pack_kb_median={statistics.median(packs) / 1024:.0f}")
        print(f"{name}_packs_under_128kb={sum(p < IA_MINIMUM for p in packs)}/{len(packs)}")
        if clearing is None and packs[0] >= IA_MINIMUM:
            clearing = rate
    print(f"min_shard_rate_all_packs_over_128kb={clearing}")

    rows = InMemoryRowSink()
    archive = ArchiveService(
        cameras=registry,
        objects=InMemoryObjectStore(),
        rows=rows,
        reads_bucket="reads",
        quarantine_bucket="q",
    )
    generator = ReadGenerator(CAMERAS, [], random.Random(args.seed), lambda: datetime.now(UTC), images=False)
    for batch in batches(generator, MAX_RECORDS / WINDOW_S, max(1, args.rows // MAX_RECORDS)):
        archive.process(batch, now=now)
    decoded = [orjson.loads(r) for r in rows.rows]
    parquet = parquet_bytes(decoded)
    print(f"parquet_rows={len(decoded)}")
    print(f"parquet_bytes_per_row={len(parquet) / len(decoded):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
