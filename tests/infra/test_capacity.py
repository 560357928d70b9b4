"""Capacity for the design peak (docs/capacity.md): the figures computed from the read the simulator
sends and the row the archive consumer actually sends to Firehose, held against the stage settings,
the synthesised prod stack and AWS's quotas in London."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aws_cdk.assertions import Template
from pydantic import ValidationError

from infra.capacity import (
    DESIGN_READ_BYTES,
    DESIGN_ROW_BYTES,
    FIREHOSE_DEFAULT_MIB_PER_S,
    KINESIS_DEFAULT_SHARD_QUOTA,
    KINESIS_ON_DEMAND_DEFAULT_MAX_MB_PER_S,
    LAMBDA_DEFAULT_CONCURRENCY,
    SCHEDULED_RESERVED,
    Capacity,
    CapacityError,
)
from infra.config import StageConfig
from nas.adapters.cameras import InMemoryCameraRegistry
from nas.adapters.firehose import InMemoryRowSink, row_records
from nas.adapters.objects import InMemoryObjectStore
from nas.local import demo
from nas.pipeline.archive import ArchiveService
from nas.pipeline.records import StreamRecord
from nas.simulator import KinesisRecord, ReadGenerator
from tests.infra.conftest import TEST_CIDR, app_context, one_resource, resources, synth_stack

SUSTAINED, PEAK = 10_000, 20_000


def simulated_reads(n: int = 3000) -> list[KinesisRecord]:
    now = datetime.now(UTC)
    generator = ReadGenerator(demo.CAMERAS, [], random.Random(3), lambda: now)
    return [generator.next_record() for _ in range(n)]


def sent_rows(reads: list[KinesisRecord]) -> list[bytes]:
    """What archive hands its row sink for these reads, in batches as a shard delivers them."""
    now = datetime.now(UTC)
    rows = InMemoryRowSink()
    archive = ArchiveService(
        cameras=InMemoryCameraRegistry(demo.CAMERAS),
        objects=InMemoryObjectStore(),
        rows=rows,
        reads_bucket="reads",
        quarantine_bucket="quarantine",
    )
    records = [
        StreamRecord(
            f"{49_600_000_000_000_000_000 + i}", r.partition_key, "shardId-000000000917", r.data, now
        )
        for i, r in enumerate(reads)
    ]
    for start in range(0, len(records), 120):  # about what a 6 MB payload holds with images
        archive.process(records[start : start + 120], now=now)
    return rows.rows


@pytest.fixture(scope="module")
def measured() -> Capacity:
    reads = simulated_reads()
    with_both_images = [r.size for r in reads if b'"plate_image"' in r.data and b'"overview_image"' in r.data]
    rows = sent_rows(reads)
    # The design figures hold the code's own sizes: a read with both NASPLE images, the largest row.
    assert statistics.mean(with_both_images) <= DESIGN_READ_BYTES
    assert max(len(row) for row in rows) <= DESIGN_ROW_BYTES
    return Capacity(
        PEAK, read_bytes=round(statistics.mean(with_both_images)), row_bytes=max(len(r) for r in rows)
    )


@pytest.fixture(scope="module")
def prod() -> StageConfig:
    return StageConfig.from_context(app_context(stage="prod"))


def test_the_design_read_and_row_are_what_the_code_sends(measured: Capacity) -> None:
    # About 37 KB a read (3 KB + 25 KB of images, base64) and about 0.7 KB a row.
    assert 30_000 < measured.read_bytes <= DESIGN_READ_BYTES
    assert 500 < measured.row_bytes <= DESIGN_ROW_BYTES
    print(f"read_bytes={measured.read_bytes} row_bytes={measured.row_bytes}")


def test_prod_holds_the_peak_with_the_code_s_own_sizes(measured: Capacity, prod: StageConfig) -> None:
    assert prod.peak_reads_per_s == PEAK == 2 * SUSTAINED
    assert prod.stream_mode == "provisioned"
    # Shards: bytes and records a second, each shard at most 80 % full.
    assert prod.shards >= measured.shards
    assert prod.shards * 1024 * 1024 * 0.8 >= PEAK * measured.read_bytes
    assert prod.shards * 1000 * 0.8 >= PEAK
    assert prod.shards <= prod.kinesis_shard_quota <= KINESIS_DEFAULT_SHARD_QUOTA
    # Match: every shard's two batches at once; the whole account's concurrency, requested.
    assert prod.match_concurrency == prod.shards * 2
    needed = measured.lambda_concurrency(
        prod.shards, match_reserved=prod.match_concurrency, api_reserved=prod.api_reserved_concurrency
    )
    assert LAMBDA_DEFAULT_CONCURRENCY < needed <= prod.lambda_concurrency_quota
    # Firehose: the rows' bytes need a raised Direct PUT quota; records stay few, many rows a record.
    assert FIREHOSE_DEFAULT_MIB_PER_S < measured.read_rows_quota_mib_per_s <= prod.read_rows_quota_mibps
    assert measured.read_rows_records_per_s(prod.shards) < PEAK / 50
    assert len(row_records(sent_rows(simulated_reads(500))[:500])) == 1
    assert prod.capacity_problems() == []
    print(
        f"shards={prod.shards} match_reserved={prod.match_concurrency} lambda_concurrency={needed}"
        f" read_rows_mib_per_s={measured.read_rows_quota_mib_per_s:.1f}"
        f" read_rows_records_per_s={measured.read_rows_records_per_s(prod.shards):.0f}"
    )


def test_on_demand_in_london_could_not_take_the_peak_without_a_raise(measured: Capacity) -> None:
    assert measured.on_demand_mb_per_s > KINESIS_ON_DEMAND_DEFAULT_MAX_MB_PER_S
    on_demand = StageConfig.from_context(app_context(stage="prod", stream_mode="on-demand"))
    assert any(p.startswith("kinesis_on_demand_quota_mbps") for p in on_demand.capacity_problems())


@pytest.fixture(scope="module")
def prod_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return Template.from_stack(
        synth_stack(tmp_path_factory.mktemp("prod"), stage="prod", api_allowed_cidrs=[TEST_CIDR])
    )


def test_prod_stream_is_provisioned_with_the_planned_shards(
    prod_template: Template, prod: StageConfig
) -> None:
    stream = one_resource(prod_template, "AWS::Kinesis::Stream", "IngestReads")["Properties"]
    assert stream["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert stream["ShardCount"] == prod.shards
    match = one_resource(prod_template, "AWS::Lambda::Function", "RuntimeMatchFunction")["Properties"]
    assert match["ReservedConcurrentExecutions"] == prod.shards * 2
    [mapping] = [
        m["Properties"]
        for m in resources(prod_template, "AWS::Lambda::EventSourceMapping").values()
        if "ParallelizationFactor" in m["Properties"] and m["Properties"]["ParallelizationFactor"] == 2
    ]
    assert mapping["BatchSize"] == 100


def test_the_quota_arithmetic_counts_every_reserved_function(
    prod_template: Template, prod: StageConfig
) -> None:
    reserved = {
        logical_id: f["Properties"]["ReservedConcurrentExecutions"]
        for logical_id, f in resources(prod_template, "AWS::Lambda::Function").items()
        if "ReservedConcurrentExecutions" in f["Properties"]
    }
    match = sum(n for lid, n in reserved.items() if lid.startswith("RuntimeMatchFunction"))
    api = sum(n for lid, n in reserved.items() if lid.startswith("RuntimeApiFunction"))
    assert (match, api) == (prod.match_concurrency, prod.api_reserved_concurrency)
    assert sum(reserved.values()) - match - api == SCHEDULED_RESERVED


@pytest.mark.parametrize(
    ("override", "setting"),
    [
        ({"lambda_concurrency_quota": 1000}, "lambda_concurrency_quota"),
        ({"read_rows_quota_mibps": 1}, "read_rows_quota_mibps"),
        ({"stream_shards": 300}, "stream_shards"),
        ({"kinesis_shard_quota": 500}, "kinesis_shard_quota"),
        ({"match_reserved_concurrency": 100}, "match_reserved_concurrency"),
    ],
)
def test_synthesis_refuses_a_stage_that_does_not_fit_its_quotas(
    tmp_path: Path, override: dict[str, object], setting: str
) -> None:
    with pytest.raises(CapacityError, match=setting):
        synth_stack(tmp_path, stage="prod", **override)


def test_an_on_demand_stream_can_be_kept_warm(tmp_path: Path) -> None:
    template = Template.from_stack(synth_stack(tmp_path, stream_warm_throughput_mibps=40))
    stream = one_resource(template, "AWS::Kinesis::Stream", "IngestReads")["Properties"]
    assert stream["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert stream["WarmThroughputMiBps"] == 40


@pytest.mark.parametrize(
    "override",
    [
        {"stream_mode": "provisioned", "stream_warm_throughput_mibps": 40},
        {"stream_mode": "on-demand", "stream_shards": 4},
        {"stream_mode": "sharded"},
        {"peak_reads_per_s": 0},
    ],
)
def test_stream_settings_that_contradict_each_other_are_refused(override: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        StageConfig.from_context({"stage": "dev", **override})
