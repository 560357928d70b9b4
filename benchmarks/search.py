"""`make bench-search`: searches through the DuckDB engine over 30,000,000 reads (90 days, 2,000
cameras) stored in the production layout, measured with a byte-counting filesystem.

The store is built once and kept under `.bench-data/` (gitignored; about 2 GB) for later runs. It is
written by the production layout code: each distinct VRM's canonical form and bucket come from
`canonical_vrm` and `vrm_bucket`, each late read's partition from `partition_of`, partition paths from
`Partition.prefix`, and every file from the local sink's writer (`parquet_table_bytes`: the row schema,
sorted by canonical VRM, row groups with statistics). Rows are generated column-wise with numpy
(drawing 30 M reads one `read_row` call at a time would take an hour and measure nothing searched).
Each (arrival, day, bucket) partition is one file of about 5,200 rows: the size of one five-minute
Firehose object at national scale (docs/search.md).

Searches go through `plan_search` and `DuckDbSearchEngine.run`, the code local mode runs, over
`pyarrow.fs.LocalFileSystem` wrapped to count every byte read. Printed as name=value:
reads, vrm_search_p50_s, vrm_search_p95_s, vrm_search_bytes_fraction (bytes read from Parquet ÷ bytes
of the 90-day window's files), tolerant_search_p50_s, partial_search_p50_s (31 days),
location_search_p50_s (24 h, 20 cameras), convoy_search_p50_s (31 days), peak_rss_mib.

Targets (issue 9): vrm p50 ≤ 1 s and bytes fraction ≤ 0.02; location ≤ 2 s; partial and convoy ≤ 10 s;
peak RSS ≤ 4 GiB (of the measuring process; the store is built in a child process).
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import resource
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from nas.adapters.duckdb_search import DuckDbSearchEngine
from nas.domain.layout import Arrival, Partition, partition_of, vrm_bucket
from nas.domain.leas import lea_codes
from nas.domain.search import (
    ConvoyCriteria,
    ConvoyHit,
    Criteria,
    LocationCriteria,
    PartialCriteria,
    VrmCriteria,
    plan_search,
)
from nas.domain.vrm import canonical_vrm
from nas.local.sink import READ_ROW_SCHEMA, parquet_table_bytes

VERSION = "search-v2"
DEFAULT_DIR = Path(".bench-data") / VERSION
READS = 30_000_000
DAYS = 90
CAMERAS = 2_000
VEHICLES = 2_000_000
LATE_FRACTION = 0.01
END = datetime(2026, 11, 1, tzinfo=UTC)
"""The store's "now": the last read is just before it, so the cached store stays valid."""
SEED = 20261101
BATCH_READS = 120  # reads whose images share one packed object (a Lambda batch)
CONVOY_OCCASIONS = 12
LETTERS = np.frombuffer(b"ABCDEFGHJKLMNOPRSTUVWXYZ", dtype=np.uint8)  # UK plates skip I and Q
DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
DIRECTIONS = np.array(["N", "NE", "E", "SE", "S", "SW", "W", "NW"])


# --- the store -------------------------------------------------------------------------------------------


def uk_vrms(rng: np.random.Generator, count: int) -> list[str]:
    """Current-format plates: two letters, two digits, three letters (AB12CDE)."""
    chars = np.empty((count, 7), dtype=np.uint8)
    chars[:, [0, 1, 4, 5, 6]] = rng.choice(LETTERS, size=(count, 5))
    chars[:, [2, 3]] = rng.choice(DIGITS, size=(count, 2))
    return [bytes(row).decode("ascii") for row in chars]


def build_store(root: Path, reads: int) -> dict[str, Any]:
    """Writes the store under `root`; returns what the searches need to know about it."""
    rng = np.random.default_rng(SEED)
    vrms = uk_vrms(rng, VEHICLES)
    canonical = [canonical_vrm(v) for v in vrms]
    buckets = np.array([vrm_bucket(c) for c in canonical], dtype=np.int32)
    vrm_array, canonical_array = pa.array(vrms), pa.array(canonical)
    leas = sorted(lea_codes())
    cameras = Cameras(
        ids=pa.array([f"CAM-{n:05d}" for n in range(CAMERAS)]),
        leas=pa.array([leas[n % len(leas)] for n in range(CAMERAS)]),
        lat=rng.uniform(50.0, 55.5, CAMERAS),
        lon=rng.uniform(-4.5, 1.7, CAMERAS),
    )
    first_day = (END - timedelta(days=DAYS)).date()
    per_day = reads // DAYS
    convoy = plant_convoy(rng, first_day)
    late_rows: dict[date, list[tuple[pa.Table, np.ndarray]]] = defaultdict(list)
    files = 0
    for day_index in range(DAYS):
        day = first_day + timedelta(days=day_index)
        table, late_mask, row_buckets, late_partitions = day_table(
            rng, day, per_day, (vrm_array, canonical_array, buckets), cameras, convoy
        )
        live = table.filter(pa.array(~late_mask))
        files += write_partitions(root, live, Arrival.LIVE, day, row_buckets[~late_mask])
        by_day: dict[date, list[int]] = defaultdict(list)
        for index, partition in late_partitions.items():
            by_day[partition.day].append(index)
        for stored_day, indexes in by_day.items():
            late_rows[stored_day].append(
                (table.take(pa.array(indexes)), np.array([late_partitions[i].vrm_bucket for i in indexes]))
            )
        print(f"day {day_index + 1}/{DAYS} written", file=sys.stderr, flush=True)
    for stored_day, parts in sorted(late_rows.items()):
        late = pa.concat_tables([t for t, _ in parts])
        files += write_partitions(root, late, Arrival.LATE, stored_day, np.concatenate([b for _, b in parts]))
    return {
        "reads": per_day * DAYS + len(convoy["rows"]),
        "files": files,
        "vehicles": VEHICLES,
        "convoy_target": vrms[convoy["target"]],
        "convoy_companions": [vrms[i] for i in convoy["companions"]],
        "sample_vrms": [vrms[i] for i in rng.integers(0, VEHICLES, 200)],
    }


@dataclass(frozen=True)
class Cameras:
    ids: pa.Array
    leas: pa.Array
    lat: np.ndarray
    lon: np.ndarray


def image_key(day: date, batch: int) -> str:
    """A packed-image key as archive writes it (`images/<day>/<shard>/<first seq>-<last seq>.jpgpack`)."""
    first = 49_650_000_000_000 + batch * BATCH_READS
    last = first + BATCH_READS - 1
    return f"images/{day.isoformat()}/shardId-{batch % 370:012d}/{first:056d}-{last:056d}.jpgpack"


def plant_convoy(rng: np.random.Generator, first_day: date) -> dict[str, Any]:
    """A target vehicle and two companions seen together on CONVOY_OCCASIONS occasions in the last
    31 days (within 20 and 45 seconds), at random cameras."""
    target, *companions = (int(i) for i in rng.integers(0, VEHICLES, 3))
    start = datetime.combine(first_day + timedelta(days=DAYS - 30), datetime.min.time(), UTC)
    rows = []
    for _ in range(CONVOY_OCCASIONS):
        at = start + timedelta(seconds=int(rng.integers(0, 29 * 86_400)))
        camera = int(rng.integers(0, CAMERAS))
        rows += [(target, camera, at), (companions[0], camera, at + timedelta(seconds=20))]
        rows.append((companions[1], camera, at - timedelta(seconds=45)))
    return {"target": target, "companions": companions, "rows": rows}


def day_table(
    rng: np.random.Generator,
    day: date,
    count: int,
    vehicles: tuple[pa.Array, pa.Array, np.ndarray],
    cameras: Cameras,
    convoy: dict[str, Any],
) -> tuple[pa.Table, np.ndarray, np.ndarray, dict[int, Partition]]:
    """One day's reads in READ_ROW_SCHEMA, whether each is late, each row's bucket, and each late
    row's partition."""
    vrm_array, canonical_array, buckets = vehicles
    day_start_ms = int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1000)
    vehicle = rng.integers(0, VEHICLES, count)
    camera = rng.integers(0, CAMERAS, count)
    captured = day_start_ms + rng.integers(0, 86_400_000, count)
    planted = [r for r in convoy["rows"] if r[2].date() == day]
    if planted:
        vehicle = np.concatenate([vehicle, [r[0] for r in planted]])
        camera = np.concatenate([camera, [r[1] for r in planted]])
        captured = np.concatenate([captured, [int(r[2].timestamp() * 1000) for r in planted]])
    n = len(vehicle)
    late = rng.random(n) < LATE_FRACTION
    late[count:] = False  # the planted convoy arrives on time
    last_day = (END - timedelta(days=1)).date().toordinal()
    stored = np.minimum(day.toordinal() + rng.integers(1, 31, n), last_day)
    late &= stored > day.toordinal()
    ingested = captured + np.where(late, (stored - day.toordinal()) * 86_400_000, 2_000)
    batch = np.arange(n) // BATCH_READS
    keys = pa.array([image_key(day, b) for b in range(int(batch[-1]) + 1)])
    plate_len = rng.integers(2_500, 3_500, n)
    overview_len = rng.integers(20_000, 30_000, n)
    sizes = plate_len + overview_len
    offsets = np.cumsum(sizes) - sizes
    offsets -= np.repeat(offsets[np.searchsorted(batch, np.arange(batch[-1] + 1))], np.bincount(batch))
    read_ids = pa.array([f"{day.strftime('%y%m%d')}-{i:07d}" for i in range(n)])
    columns: dict[str, Any] = {
        "read_id": read_ids,
        "camera_id": cameras.ids.take(pa.array(camera)),
        "vrm": vrm_array.take(pa.array(vehicle)),
        "vrm_canonical": canonical_array.take(pa.array(vehicle)),
        "captured_at": pa.array(captured, pa.timestamp("ms", tz="UTC")),
        "lea": cameras.leas.take(pa.array(camera)),
        "source": pa.array(["static"] * n),
        "lat": pa.array(cameras.lat[camera]),
        "lon": pa.array(cameras.lon[camera]),
        "direction": pa.array(DIRECTIONS[rng.integers(0, 8, n)]),
        "lane": pa.array(rng.integers(1, 4, n).astype(np.int32)),
        "confidence": pa.array(rng.integers(60, 101, n).astype(np.int32)),
        "late": pa.array(late),
        "ingested_at": pa.array(ingested, pa.timestamp("ms", tz="UTC")),
        "plate_image_key": keys.take(pa.array(batch)),
        "plate_image_offset": pa.array(offsets.astype(np.int64)),
        "plate_image_length": pa.array(plate_len.astype(np.int32)),
        "overview_image_key": keys.take(pa.array(batch)),
        "overview_image_offset": pa.array((offsets + plate_len).astype(np.int64)),
        "overview_image_length": pa.array(overview_len.astype(np.int32)),
    }
    table = pa.table([columns[f.name] for f in READ_ROW_SCHEMA], schema=READ_ROW_SCHEMA)
    # A live read's partition: its capture day and its vehicle's bucket; a late read's: the production
    # rule itself, one call per late read (about 1 % of them).
    row_buckets = buckets[vehicle]
    late_partitions = {
        int(index): partition_of(
            captured_at=datetime.fromtimestamp(int(captured[index]) / 1000, UTC),
            vrm_canonical=canonical_array[int(vehicle[index])].as_py(),
            late=True,
            stored_at=datetime.combine(date.fromordinal(int(stored[index])), datetime.min.time(), UTC),
        )
        for index in np.flatnonzero(late)
    }
    return table, late, row_buckets, late_partitions


def write_partitions(
    root: Path, table: pa.Table, arrival: Arrival, day: date, row_buckets: np.ndarray
) -> int:
    """One file per bucket, written by the sink's writer at the partition's production path."""
    order = np.argsort(row_buckets, kind="stable")
    sorted_buckets = row_buckets[order]
    written = 0
    for bucket in np.unique(sorted_buckets):
        lo, hi = np.searchsorted(sorted_buckets, [bucket, bucket + 1])
        part = table.take(pa.array(order[lo:hi]))
        path = root / Partition(arrival, day, int(bucket)).prefix / "part-00000.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(parquet_table_bytes(part))
        written += 1
    return written


def ensure_store(root: Path, reads: int) -> dict[str, Any]:
    manifest = root / "manifest.json"
    if manifest.exists():
        facts: dict[str, Any] = json.loads(manifest.read_text())
        if facts.get("requested_reads") == reads:
            return facts
    print(f"building the store of {reads:,} reads under {root} (once; kept for later runs)", file=sys.stderr)
    started = time.monotonic()
    # A child process builds it, so the measured peak memory is the searches' alone.
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=_build, args=(str(root), reads))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"building the store failed (exit {child.exitcode})")
    print(f"built in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return dict(json.loads(manifest.read_text()))


def _build(root: str, reads: int) -> None:
    path = Path(root)
    if path.exists():
        for old in sorted(path.rglob("*"), reverse=True):
            old.unlink() if old.is_file() else old.rmdir()
    path.mkdir(parents=True, exist_ok=True)
    facts = build_store(path, reads)
    (path / "manifest.json").write_text(json.dumps({**facts, "requested_reads": reads}))


# --- measuring -----------------------------------------------------------------------------------------


class CountingFile(io.RawIOBase):
    def __init__(self, raw: Any, counter: list[int]) -> None:
        self._raw = raw
        self._counter = counter

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)
        self._counter[0] += count or 0
        return count  # type: ignore[no-any-return]

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._counter[0] += len(data)
        return data  # type: ignore[no-any-return]

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)  # type: ignore[no-any-return]

    def tell(self) -> int:
        return self._raw.tell()  # type: ignore[no-any-return]

    def close(self) -> None:
        self._raw.close()
        super().close()

    @property
    def size(self) -> int:
        here = self._raw.tell()
        end = self._raw.seek(0, 2)
        self._raw.seek(here)
        return end  # type: ignore[no-any-return]


class CountingHandler(pafs.FileSystemHandler):
    """A local filesystem that counts the bytes read from the files it opens."""

    def __init__(self) -> None:
        self.local = pafs.LocalFileSystem()
        self.counter = [0]

    def get_type_name(self) -> str:
        return "counting"

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return self.local.get_file_info(paths)  # type: ignore[no-any-return]

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return self.local.get_file_info(selector)  # type: ignore[no-any-return]

    def open_input_file(self, path: str) -> Any:
        return pa.PythonFile(CountingFile(open(path, "rb"), self.counter), mode="r")

    def open_input_stream(self, path: str) -> Any:
        return self.open_input_file(path)

    def create_dir(self, path: str, recursive: bool) -> None:
        raise NotImplementedError

    def delete_dir(self, path: str) -> None:
        raise NotImplementedError

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        raise NotImplementedError

    def delete_root_dir_contents(self) -> None:
        raise NotImplementedError

    def delete_file(self, path: str) -> None:
        raise NotImplementedError

    def move(self, src: str, dest: str) -> None:
        raise NotImplementedError

    def copy_file(self, src: str, dest: str) -> None:
        raise NotImplementedError

    def open_output_stream(self, path: str, metadata: Any = None) -> Any:
        raise NotImplementedError

    def open_append_stream(self, path: str, metadata: Any = None) -> Any:
        raise NotImplementedError


def timed(
    runs: int, make: Callable[[int], Criteria], days: float, engine: DuckDbSearchEngine, end: datetime
) -> tuple[list[float], list[int]]:
    durations, rows = [], []
    for n in range(runs):
        criteria = make(n)
        plan = plan_search(criteria, window_from=end - timedelta(days=days), window_to=end, now=END)
        started = time.perf_counter()
        hits = engine.run(plan)
        durations.append(time.perf_counter() - started)
        rows.append(len(hits))
    return durations, rows


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def window_bytes(root: Path, first: date, last: date) -> int:
    total = 0
    for arrival in Arrival:
        for path in (root / "reads" / f"arrival={arrival.value}").glob("day=*"):
            day = date.fromisoformat(path.name.removeprefix("day="))
            if first <= day <= last:
                total += sum(f.stat().st_size for f in path.rglob("*.parquet"))
    return total


def measure(root: Path, facts: dict[str, Any], runs: int) -> dict[str, Any]:
    handler = CountingHandler()
    engine = DuckDbSearchEngine(pafs.PyFileSystem(handler), str(root.resolve()))
    rng = np.random.default_rng(SEED + 1)
    vrms = facts["sample_vrms"]
    figures: dict[str, Any] = {"reads": facts["reads"]}

    def vrm(n: int) -> Criteria:
        return VrmCriteria(vrms[n % len(vrms)])

    engine.run(plan_search(vrm(0), window_from=END - timedelta(days=90), window_to=END, now=END))  # warm
    handler.counter[0] = 0
    durations, found = timed(runs, vrm, 90, engine, END)
    read_bytes = handler.counter[0] / runs
    first = (END - timedelta(days=90)).date()
    figures["vrm_search_p50_s"] = round(statistics.median(durations), 3)
    figures["vrm_search_p95_s"] = round(p(durations, 0.95), 3)
    figures["vrm_search_rows_mean"] = round(statistics.mean(found), 1)
    figures["vrm_search_bytes_fraction"] = round(read_bytes / window_bytes(root, first, END.date()), 4)

    durations, _ = timed(runs, lambda n: VrmCriteria(vrms[n % len(vrms)], ocr_tolerant=True), 90, engine, END)
    figures["tolerant_search_p50_s"] = round(statistics.median(durations), 3)

    def partial(n: int) -> Criteria:
        v = vrms[n % len(vrms)]
        return PartialCriteria(f"{v[:3]}?{v[4]}*")

    durations, found = timed(max(3, runs // 4), partial, 31, engine, END)
    figures["partial_search_p50_s"] = round(statistics.median(durations), 3)
    figures["partial_search_rows_mean"] = round(statistics.mean(found), 1)

    def location(n: int) -> Criteria:
        return LocationCriteria(tuple(f"CAM-{c:05d}" for c in rng.choice(CAMERAS, 20, replace=False)))

    day_end = END - timedelta(days=10)
    durations, found = timed(runs, location, 1, engine, day_end)
    figures["location_search_p50_s"] = round(statistics.median(durations), 3)
    figures["location_search_rows_mean"] = round(statistics.mean(found), 1)

    def convoy(n: int) -> Criteria:
        return ConvoyCriteria(facts["convoy_target"], within_s=120, min_sightings=3)

    convoy_durations, _ = timed(max(3, runs // 4), convoy, 31, engine, END)
    figures["convoy_search_p50_s"] = round(statistics.median(convoy_durations), 3)
    hits = engine.run(plan_search(convoy(0), window_from=END - timedelta(days=31), window_to=END, now=END))
    found_companions = sorted(h.vrm for h in hits if isinstance(h, ConvoyHit))
    figures["convoy_companions_found"] = int(found_companions == sorted(facts["convoy_companions"]))
    figures["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reads", type=int, default=READS)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument(
        "--runs", type=int, default=20, help="searches of each kind (partial, convoy: a quarter)"
    )
    args = parser.parse_args(argv)
    facts = ensure_store(args.dir, args.reads)
    for name, value in measure(args.dir, facts, args.runs).items():
        print(f"{name}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
