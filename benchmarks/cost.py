"""`make cost`: what a stage costs at a given volume (default 90,000,000 reads a day kept 12 months),
from figures measured here and now and the London list prices in infra/prices-eu-west-2.toml
(arithmetic: infra/cost.py; the model and its assumptions: docs/cost.md).

Measured in this run (about a minute): reads as `nas simulate` makes them go through the archive
consumer at the per-shard rate the stage's stream sees on an average day (pack bytes per read, row
bytes, Parquet bytes per row), and through match and archive as `make bench` runs them, on a smaller
VOI set (CPU time per read, VOI keys looked up per read). The bytes a VRM search reads: the
`vrm_search_bytes_fraction` of the last `make bench-search` (kept in .bench-data/bench-search.txt),
else the layout's bound (one bucket of 64).

Prints each line item a month and `usd_per_million_reads_kept_a_year=`, without and with image
tiering, and against the target of 5 USD names the line that stops it.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `infra`, beside the benches

import pipeline
import storage_sizes

from infra.capacity import Capacity
from infra.cost import Measured, Prices, Volume, images_off_stream, layout_vrm_fraction, model
from nas.adapters.alerts import InMemoryAlertStore
from nas.adapters.cameras import InMemoryCameraRegistry
from nas.adapters.events import InMemoryAlertPublisher
from nas.adapters.firehose import InMemoryRowSink
from nas.adapters.objects import InMemoryObjectStore
from nas.adapters.voi_match import InMemoryVoiStore, VrmListing
from nas.cli.simulate import ReadGenerator, ReadMix
from nas.local.demo import CAMERAS
from nas.local.sink import parquet_bytes
from nas.pipeline.archive import ArchiveService
from nas.pipeline.match import MatchService

TARGET_USD = 5.0
SEARCH_FIGURES = Path(".bench-data") / "bench-search.txt"


class KeyCountingVoi(InMemoryVoiStore):
    """The in-memory VOI store, counting the keys each lookup asks for (BatchGetItem's read units)."""

    def __init__(self, store: InMemoryVoiStore) -> None:
        self.__dict__.update(store.__dict__)
        self.keys = 0

    def listings(self, vrms: Collection[str]) -> dict[str, VrmListing]:
        self.keys += len(vrms)
        return super().listings(vrms)


def storage_figures(rate: float, reads: int, seed: int) -> dict[str, float]:
    """Pack bytes per read at `rate` reads a second a shard; row and Parquet bytes per read."""
    now = datetime.now(UTC)
    generator = ReadGenerator(CAMERAS, [], random.Random(seed), lambda: datetime.now(UTC), mix=ReadMix())
    objects, rows = InMemoryObjectStore(), InMemoryRowSink()
    archive = ArchiveService(
        cameras=InMemoryCameraRegistry(CAMERAS),
        objects=objects,
        rows=rows,
        reads_bucket="r",
        quarantine_bucket="q",
    )
    per_batch = max(1, round(rate * storage_sizes.WINDOW_S))
    stored = 0
    # One run of batches: their pack keys follow the sequence numbers, which each run restarts.
    for batch in storage_sizes.batches(generator, rate, max(1, reads // per_batch)):
        stored += archive.process(batch, now=now).archived
    packs = [len(b) for (_, key), b in objects.objects.items() if key.endswith(".jpgpack")]
    decoded = [orjson.loads(r) for r in rows.rows]
    return {
        "reads_per_pack": stored / len(packs),
        "image_bytes_per_read": sum(packs) / stored,
        "row_bytes": statistics.mean(len(r) for r in rows.rows),
        "parquet_bytes_per_row": len(parquet_bytes(decoded)) / len(decoded),
    }


def pipeline_figures(reads: int, voi_entries: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    store, vrms = pipeline.voi_set(rng, voi_entries, now)
    voi = KeyCountingVoi(store)
    fleet = pipeline.cameras(rng, 2_000)
    registry = InMemoryCameraRegistry(fleet)
    match = MatchService(
        cameras=registry, voi=voi, alerts=InMemoryAlertStore(), publisher=InMemoryAlertPublisher()
    )
    archive = ArchiveService(
        cameras=registry,
        objects=pipeline.DiscardingObjectStore(),
        rows=pipeline.CountingRowSink(),
        reads_bucket="r",
        quarantine_bucket="q",
    )
    match_s = archive_s = 0.0
    count = payload = 0
    gc.collect()
    for batch in pipeline.batches(rng, reads, fleet, vrms, 0.01, now):
        count += len(batch)
        payload += sum(len(r.data) for r in batch)
        t0 = time.process_time()
        match.process(batch, now=now)
        t1 = time.process_time()
        archive.process(batch, now=now)
        t2 = time.process_time()
        match_s += t1 - t0
        archive_s += t2 - t1
    return {
        "read_bytes": payload / count,
        "match_cpu_ms_per_read": match_s / count * 1000,
        "archive_cpu_ms_per_read": archive_s / count * 1000,
        "voi_keys_per_read": voi.keys / count,
    }


def search_fraction() -> tuple[float, str]:
    if SEARCH_FIGURES.exists():
        for line in SEARCH_FIGURES.read_text(encoding="utf-8").splitlines():
            name, _, value = line.partition("=")
            if name == "vrm_search_bytes_fraction":
                return float(value), "bench-search"
    return layout_vrm_fraction(), "layout"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = Volume()
    parser.add_argument("--reads-per-day", type=int, default=defaults.reads_per_day)
    parser.add_argument("--months-kept", type=int, default=defaults.months_kept)
    parser.add_argument("--peak-reads-per-s", type=int, default=defaults.peak_reads_per_s)
    parser.add_argument("--searches-per-day", type=int, default=defaults.searches_per_day)
    parser.add_argument("--alerts-per-read", type=float, default=defaults.alerts_per_read)
    parser.add_argument("--api-requests-per-day", type=int, default=defaults.api_requests_per_day)
    parser.add_argument(
        "--sample-reads", type=int, default=20_000, help="reads measured through the pipeline"
    )
    parser.add_argument("--voi-entries", type=int, default=200_000)
    parser.add_argument("--prices", type=Path, default=None, help="a price table (default: London's)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    volume = Volume(
        reads_per_day=args.reads_per_day,
        months_kept=args.months_kept,
        peak_reads_per_s=args.peak_reads_per_s,
        searches_per_day=args.searches_per_day,
        alerts_per_read=args.alerts_per_read,
        api_requests_per_day=args.api_requests_per_day,
    )
    prices = Prices.load(args.prices) if args.prices else Prices.load()
    pipe = pipeline_figures(args.sample_reads, args.voi_entries, args.seed)
    shards = Capacity(volume.peak_reads_per_s, read_bytes=round(pipe["read_bytes"])).shards
    rate = volume.reads_per_day / 86_400 / shards
    store = storage_figures(rate, args.sample_reads, args.seed)
    fraction, fraction_source = search_fraction()
    measured = Measured(
        read_bytes=pipe["read_bytes"],
        row_bytes=store["row_bytes"],
        parquet_bytes_per_row=store["parquet_bytes_per_row"],
        image_bytes_per_read=store["image_bytes_per_read"],
        match_cpu_ms_per_read=pipe["match_cpu_ms_per_read"],
        archive_cpu_ms_per_read=pipe["archive_cpu_ms_per_read"],
        voi_keys_per_read=pipe["voi_keys_per_read"],
        vrm_search_bytes_fraction=fraction,
    )
    print(f"prices_as_of={prices.as_of}")
    print(f"reads_per_day={volume.reads_per_day}")
    print(f"months_kept={volume.months_kept}")
    print(f"stream_shards={shards}")
    print(f"mean_reads_per_s_per_shard={rate:.2f}")
    for name, value in {**pipe, **store}.items():
        print(f"measured_{name}={value:.4g}")
    print(f"measured_vrm_search_bytes_fraction={fraction:.4g} ({fraction_source})")
    untiered = model(measured, volume, prices, tiered=False)
    tiered = model(measured, volume, prices, tiered=True)
    for item_untiered, item_tiered in zip(untiered.items, tiered.items, strict=True):
        suffix = (
            ""
            if item_untiered.usd_per_month == item_tiered.usd_per_month
            else f" (tiered {item_tiered.usd_per_month:,.0f})"
        )
        line = f"usd_per_month_{item_untiered.name}={item_untiered.usd_per_month:,.0f}{suffix}"
        print(f"{line}  # {item_tiered.basis}")
    print(f"usd_per_month_total={untiered.usd_per_month:,.0f}")
    print(f"usd_per_month_total_tiered={tiered.usd_per_month:,.0f}")
    print(f"usd_per_million_reads_kept_a_year={untiered.usd_per_million_reads_kept_a_year:.2f}")
    print(f"usd_per_million_reads_kept_a_year_tiered={tiered.usd_per_million_reads_kept_a_year:.2f}")
    best = tiered.usd_per_million_reads_kept_a_year
    if best <= TARGET_USD:
        print(f"target_met=true (<= {TARGET_USD:g} USD)")
        return 0
    largest = tiered.largest()
    print(f"target_met=false: {best:.2f} > {TARGET_USD:g} USD; largest line {largest.name}")
    # What would: the same model with the stream's design changed (docs/cost.md, "Against the target").
    off = model(images_off_stream(measured), volume, prices, tiered=True)
    shared = replace(volume, enhanced_fan_out=False)
    for name, scenario in (
        ("images_off_stream", off),
        ("no_enhanced_fan_out", model(measured, shared, prices, tiered=True)),
        (
            "images_off_stream_no_enhanced_fan_out",
            model(images_off_stream(measured), shared, prices, tiered=True),
        ),
    ):
        figure = scenario.usd_per_million_reads_kept_a_year
        print(f"usd_per_million_reads_kept_a_year_tiered_{name}={figure:.2f}")
    print(f"stream_shards_images_off_stream={off.shards}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
