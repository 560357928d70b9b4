"""What a stage costs a month at a given volume, from the project's own measured figures and one
table of London list prices (`infra/prices-eu-west-2.toml`): the arithmetic behind `make cost`
(`benchmarks/cost.py` measures, this module prices). docs/cost.md explains each line and its
assumptions.

Pure arithmetic: no clock, no AWS. `Measured` comes from the benches (bytes per Parquet row and per
pack from a generated day, Lambda time and VOI lookups per batch from the pipeline, the bytes a VRM
search reads from the search bench or the layout), `Volume` states the load, `Prices` the list
prices. Every line is USD a month (730 hours, 30.4 days); the headline figure is the cost of a year
divided by the millions of reads taken in that year, each kept for `months_kept`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.capacity import (
    ARCHIVE_BATCHING_WINDOW_S,
    KINESIS_EVENT_RECORD_OVERHEAD_BYTES,
    LAMBDA_PAYLOAD_BYTES,
    Capacity,
)
from nas import catalogue
from nas.domain.layout import LATE_VRM_BUCKETS, VRM_BUCKETS

PRICES_FILE = Path(__file__).with_name("prices-eu-west-2.toml")
HOURS_PER_MONTH = 730
DAYS_PER_MONTH = 365 / 12
GB = 1_000_000_000
KINESIS_PUT_UNIT_BYTES = 25 * 1024
LAMBDA_FULL_VCPU_MB = 1769
"""Lambda gives a function one full vCPU at 1,769 MB and CPU in proportion below it."""
IMAGE_TIER_AFTER_DAYS = 90
"""Packs move to Glacier Instant Retrieval after 90 days (infra/constructs/storage.py, R-ACCESS)."""


@dataclass(frozen=True, slots=True)
class Prices:
    as_of: str
    table: Mapping[str, Mapping[str, float]]

    def __call__(self, service: str, item: str) -> float:
        return float(self.table[service][item])

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> Prices:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        return cls(str(raw["as_of"]), {k: v for k, v in raw.items() if isinstance(v, dict)})


@dataclass(frozen=True, slots=True)
class Measured:
    """The project's own figures (benchmarks/cost.py measures them; tests give small fixed ones)."""

    read_bytes: float
    """Mean bytes of a read record on the stream (plate and overview images in base64)."""
    row_bytes: float
    """Mean bytes of the JSON row archive sends to Firehose per read."""
    parquet_bytes_per_row: float
    image_bytes_per_read: float
    """Pack bytes per read (both images, as packed)."""
    match_cpu_ms_per_read: float
    archive_cpu_ms_per_read: float
    voi_keys_per_read: float
    """Distinct VRMs looked up per read (BatchGetItem keys; a miss costs as a read)."""
    vrm_search_bytes_fraction: float
    """Of a search window's Parquet bytes, the fraction a VRM search reads."""


@dataclass(frozen=True, slots=True)
class Volume:
    """The stated load. Defaults: the national service of SPEC §1."""

    reads_per_day: int = 90_000_000
    months_kept: int = 12
    peak_reads_per_s: int = 20_000
    alerts_per_read: float = 0.01
    searches_per_day: int = 20_000
    search_window_days: int = 30
    api_requests_per_day: int = 1_000_000
    """Searches, their pages, alert listings and outcomes, VOI and admin calls."""
    image_views_per_day: int = 50_000
    image_views_after_tier_fraction: float = 0.05
    """Of images viewed, those older than 90 days (R-ACCESS: only authorised searches reach them)."""
    match_reads_per_invocation: float = 1.5
    """Match has no batching window (alerts within seconds): at about one read a second a shard,
    an invocation carries one or two."""
    io_ms_per_match_invocation: float = 15.0
    io_ms_per_archive_invocation: float = 120.0
    """Waiting on DynamoDB (match) and on S3 and Firehose (archive), which cannot be measured
    offline: stated."""
    log_bytes_per_invocation: int = 600
    lambda_memory_mb: int = 1024
    enhanced_fan_out: bool = True
    """Match reads through its own enhanced fan-out consumer (as deployed); False prices shared
    throughput polling instead."""


@dataclass(frozen=True, slots=True)
class LineItem:
    name: str
    usd_per_month: float
    basis: str


@dataclass(frozen=True, slots=True)
class CostModel:
    items: tuple[LineItem, ...]
    volume: Volume
    tiered: bool
    shards: int = field(default=0)

    @property
    def usd_per_month(self) -> float:
        return sum(i.usd_per_month for i in self.items)

    @property
    def usd_per_million_reads_kept_a_year(self) -> float:
        """A year's cost over the millions of reads taken in that year (each kept `months_kept`)."""
        reads_a_year_millions = self.volume.reads_per_day * 365 / 1_000_000
        return self.usd_per_month * 12 / reads_a_year_millions

    def largest(self) -> LineItem:
        return max(self.items, key=lambda i: i.usd_per_month)


def layout_vrm_fraction(late_share: float = 0.01) -> float:
    """The fraction of a window's files a VRM search opens by the layout alone (one live bucket of
    64, one late bucket of 8): an upper bound, as row groups are skipped by their statistics too."""
    return (1 - late_share) / VRM_BUCKETS + late_share / LATE_VRM_BUCKETS


def model(measured: Measured, volume: Volume, prices: Prices, *, tiered: bool) -> CostModel:
    """Every line a month at `volume`, with or without image tiering."""
    p = prices
    reads_month = volume.reads_per_day * DAYS_PER_MONTH
    capacity = Capacity(volume.peak_reads_per_s, read_bytes=round(measured.read_bytes))
    shards = capacity.shards
    gb_stream_month = reads_month * measured.read_bytes / GB
    items: list[LineItem] = []

    def add(name: str, usd: float, basis: str) -> None:
        items.append(LineItem(name, usd, basis))

    # Stream: provisioned for the peak (infra/capacity.py), and match's enhanced fan-out consumer.
    add(
        "kinesis_shards",
        shards * HOURS_PER_MONTH * p("kinesis", "shard_hour"),
        f"{shards} shards for {volume.peak_reads_per_s:,} reads/s",
    )
    units = math.ceil(measured.read_bytes / KINESIS_PUT_UNIT_BYTES)
    add(
        "kinesis_put_units",
        reads_month * units / 1e6 * p("kinesis", "put_payload_units_per_million"),
        f"{units} payload units a read",
    )
    add(
        "kinesis_enhanced_fan_out",
        (
            shards * HOURS_PER_MONTH * p("kinesis", "efo_consumer_shard_hour")
            + gb_stream_month * p("kinesis", "efo_data_per_gb")
        )
        if volume.enhanced_fan_out
        else 0.0,
        "match's consumer: shard-hours and data" if volume.enhanced_fan_out else "shared throughput",
    )

    # Lambda: CPU measured on a full core, scaled to the share of a vCPU 1,024 MB gets, plus waits.
    cpu_scale = LAMBDA_FULL_VCPU_MB / volume.lambda_memory_mb
    gb = volume.lambda_memory_mb / 1024
    match_invocations = reads_month / volume.match_reads_per_invocation
    match_ms = match_invocations * (
        volume.io_ms_per_match_invocation
        + measured.match_cpu_ms_per_read * volume.match_reads_per_invocation * cpu_scale
    )
    per_shard_s = volume.reads_per_day / 86_400 / shards
    payload_reads = LAMBDA_PAYLOAD_BYTES // (
        math.ceil(measured.read_bytes * 4 / 3) + KINESIS_EVENT_RECORD_OVERHEAD_BYTES
    )
    archive_batch = max(1.0, min(float(payload_reads), per_shard_s * ARCHIVE_BATCHING_WINDOW_S))
    archive_invocations = reads_month / archive_batch
    archive_ms = archive_invocations * (
        volume.io_ms_per_archive_invocation + measured.archive_cpu_ms_per_read * archive_batch * cpu_scale
    )
    for name, invocations, ms in (
        ("lambda_match", match_invocations, match_ms),
        ("lambda_archive", archive_invocations, archive_ms),
    ):
        add(
            name,
            invocations / 1e6 * p("lambda", "requests_per_million")
            + ms / 1000 * gb * p("lambda", "gb_second_arm"),
            f"{invocations / 1e6:.1f} M invocations, {ms / invocations:.0f} ms each",
        )
    api_month = volume.api_requests_per_day * DAYS_PER_MONTH
    add(
        "lambda_api",
        api_month / 1e6 * p("lambda", "requests_per_million")
        + api_month * 0.150 * 0.5 * p("lambda", "gb_second_arm"),
        "150 ms at 512 MB a request",
    )

    # DynamoDB on demand: VOI lookups (eventually consistent: half a unit a key, found or not),
    # alert writes (the item and each index it lands in), audit appends (head read, item, 2 indexes).
    rru, wru = (
        p("dynamodb", "read_request_units_per_million"),
        p("dynamodb", "write_request_units_per_million"),
    )
    add(
        "dynamodb_voi_lookups",
        reads_month * measured.voi_keys_per_read * 0.5 / 1e6 * rru,
        f"{measured.voi_keys_per_read:.2f} keys a read",
    )
    alerts_month = reads_month * volume.alerts_per_read
    all_projected = sum(1 for i in catalogue.ALERTS.indexes if i.projection is None)
    wru_per_alert = (1 + len(catalogue.ALERTS.indexes)) + (1 + all_projected + 1)
    add("dynamodb_alert_writes", alerts_month * wru_per_alert / 1e6 * wru, f"{wru_per_alert} WRU an alert")
    audit_events = api_month  # the jobs' own events are a handful a day
    add(
        "dynamodb_audit_appends",
        audit_events * (1 / 1e6 * rru + (1 + len(catalogue.AUDIT.indexes)) / 1e6 * wru),
        "one audit record a request",
    )
    stored_gb = (
        1_000_000
        * 1_000  # VOI: a million entries of about 1 KB, twice (entry and match item)
        * 2
        + alerts_month * volume.months_kept * 1_500
        + audit_events * volume.months_kept * 1_200 * 3  # the item and its two index copies
    ) / GB
    add("dynamodb_storage", stored_gb * p("dynamodb", "storage_gb_month"), f"{stored_gb:.0f} GB held")
    add(
        "eventbridge_alerts",
        alerts_month / 1e6 * p("eventbridge", "custom_events_per_million"),
        "one event an alert",
    )

    # Firehose: rows in, converted to Parquet, partitioned dynamically.
    rows_gb = reads_month * measured.row_bytes / GB
    objects_month = 208 * 96 * DAYS_PER_MONTH  # active partitions x 15-minute flushes
    add(
        "firehose_rows",
        rows_gb
        * (
            p("firehose", "ingest_per_gb")
            + p("firehose", "format_conversion_per_gb")
            + p("firehose", "dynamic_partitioning_per_gb")
        )
        + objects_month / 1000 * p("firehose", "dynamic_partitioning_per_thousand_objects"),
        f"{rows_gb:,.0f} GB of rows",
    )

    # S3: what is held at steady state (each day's data kept months_kept), and requests.
    days_kept = volume.months_kept * DAYS_PER_MONTH
    parquet_gb_day = volume.reads_per_day * measured.parquet_bytes_per_row / GB
    image_gb_day = volume.reads_per_day * measured.image_bytes_per_read / GB
    add(
        "s3_parquet",
        parquet_gb_day * days_kept * p("s3", "standard_gb_month"),
        f"{parquet_gb_day * days_kept / 1000:,.1f} TB held",
    )
    packs_month = archive_invocations  # one pack a batch
    if tiered:
        hot_days = min(days_kept, IMAGE_TIER_AFTER_DAYS)
        cold_days = max(0.0, days_kept - hot_days)
        viewed_cold_gb = (
            volume.image_views_per_day
            * volume.image_views_after_tier_fraction
            * DAYS_PER_MONTH
            * measured.image_bytes_per_read
            / GB
        )
        add(
            "s3_images",
            image_gb_day
            * (
                hot_days * p("s3", "standard_gb_month")
                + cold_days * p("s3", "glacier_instant_retrieval_gb_month")
            )
            + packs_month / 1000 * p("s3", "lifecycle_transition_gir_per_thousand")
            + viewed_cold_gb * p("s3", "gir_retrieval_per_gb"),
            f"{image_gb_day * days_kept / 1000:,.0f} TB held: {hot_days:.0f} days Standard, then Glacier IR",
        )
    else:
        add(
            "s3_images",
            image_gb_day * days_kept * p("s3", "standard_gb_month"),
            f"{image_gb_day * days_kept / 1000:,.0f} TB held in Standard",
        )
    add(
        "s3_requests",
        (packs_month + objects_month) / 1000 * p("s3", "put_per_thousand")
        + volume.image_views_per_day * DAYS_PER_MONTH / 1000 * p("s3", "get_per_thousand"),
        f"{packs_month / 1e6:.1f} M pack PUTs",
    )

    # Athena: VRM searches over the stated window; at least 10 MB a query.
    window_gb = parquet_gb_day * volume.search_window_days
    per_search = max(
        p("athena", "minimum_bytes_per_query"), window_gb * GB * measured.vrm_search_bytes_fraction
    )
    add(
        "athena_searches",
        volume.searches_per_day * DAYS_PER_MONTH * per_search / 1e12 * p("athena", "per_tb_scanned"),
        f"{per_search / 1e6:,.0f} MB a search",
    )

    # The API's front door, keys, logs and alarms.
    add(
        "api_gateway_and_waf",
        api_month / 1e6 * (p("api_gateway", "rest_requests_per_million") + p("waf", "requests_per_million"))
        + p("waf", "web_acl_month")
        + 6 * p("waf", "rule_month"),
        "REST API and web ACL with 6 rules",
    )
    # Kinesis encrypts with the stream key: about one KMS call per shard each 5 minutes per producer
    # and consumer (2 consumers, producers counted as one per shard).
    kms_calls = shards * 12 * HOURS_PER_MONTH * 3
    add(
        "kms",
        10 * p("kms", "key_month") + kms_calls / 10_000 * p("kms", "requests_per_ten_thousand"),
        "10 keys; stream data keys",
    )
    log_gb = (match_invocations + archive_invocations + api_month) * volume.log_bytes_per_invocation / GB
    add(
        "cloudwatch",
        log_gb * p("cloudwatch", "logs_ingest_per_gb") + 40 * p("cloudwatch", "alarm_month"),
        f"{log_gb:,.0f} GB of logs, 40 alarms",
    )
    return CostModel(tuple(items), volume, tiered, shards)


def images_off_stream(measured: Measured) -> Measured:
    """The same reads if cameras put their images in S3 themselves and the stream carried the read
    and the images' keys (about the row's size): what would bring the stream within the target."""
    return Measured(
        read_bytes=measured.row_bytes,
        row_bytes=measured.row_bytes,
        parquet_bytes_per_row=measured.parquet_bytes_per_row,
        image_bytes_per_read=measured.image_bytes_per_read,
        match_cpu_ms_per_read=measured.match_cpu_ms_per_read,
        archive_cpu_ms_per_read=measured.archive_cpu_ms_per_read,
        voi_keys_per_read=measured.voi_keys_per_read,
        vrm_search_bytes_fraction=measured.vrm_search_bytes_fraction,
    )
