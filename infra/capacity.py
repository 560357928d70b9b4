"""Capacity of a stage for its design peak of reads a second: shards, concurrency and Firehose
throughput, and the AWS quotas in eu-west-2 (London) they must fit in. docs/capacity.md shows the
arithmetic; `tests/infra/test_capacity.py` measures the read and the row the code actually sends and
holds the design figures below above them.

Quotas checked against AWS's published pages for London (eu-west-2):
- Kinesis Data Streams (streams/latest/dev/service-sizes-and-limits.html): a shard takes 1 MiB/s or
  1,000 records/s of writes; the default shard quota outside N. Virginia, Oregon and Ireland is 1,000
  (or 6,000) shards an account; an on-demand stream starts at 4 MB/s and scales to 200 MB/s of writes
  there (up to 10 GB/s on a support ticket; warm throughput only with On-demand Advantage).
- Amazon Data Firehose (firehose/latest/dev/limits.html): Direct PUT in London takes 1 MiB/s,
  1,000 requests/s and 100,000 records/s a stream (older pages: 1,000 records/s); the three scale
  together when a raise is granted. Multi-record deaggregation splits at most 500 rows a record;
  a record is at most 1,000 KiB and PutRecordBatch 500 records and 4 MiB.
- Lambda (lambda/latest/dg/gettingstarted-limits.html): 1,000 concurrent executions a region by
  default, of which 100 must stay unreserved; raised on request through Service Quotas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MiB = 1024 * 1024
KiB = 1024

# The design read: a NASPLE plate (about 3 KB) and overview (about 25 KB), base64 in JSON (x 4/3),
# and the fields: about 38 KB. The simulator's reads average 30 KB (not every read has both images).
DESIGN_READ_BYTES = 38_000
# The design row archive sends to Firehose (JSON, epoch-millisecond times, two image references):
# about 0.72 KB measured; 1 KB leaves room for columns yet to come.
DESIGN_ROW_BYTES = 1_000
# Plan every shard, stream and quota at most this full: camera ids hash unevenly over shards, and a
# burst above the design peak should slow nothing down.
TARGET_UTILISATION = 0.8

KINESIS_SHARD_WRITE_BYTES_PER_S = 1 * MiB
KINESIS_SHARD_WRITE_RECORDS_PER_S = 1_000
KINESIS_DEFAULT_SHARD_QUOTA = 1_000
KINESIS_ON_DEMAND_DEFAULT_MAX_MB_PER_S = 200
KINESIS_ON_DEMAND_INITIAL_MB_PER_S = 4

FIREHOSE_DEFAULT_MIB_PER_S = 1.0
FIREHOSE_DEFAULT_REQUESTS_PER_S_PER_MIB = 1_000
FIREHOSE_DEFAULT_RECORDS_PER_S_PER_MIB = 1_000  # the older, lower figure: plan for it
FIREHOSE_ROWS_PER_RECORD = 500  # multi-record deaggregation splits at most 500 a record
FIREHOSE_MAX_RECORD_BYTES = 1_000 * KiB

LAMBDA_DEFAULT_CONCURRENCY = 1_000
LAMBDA_MIN_UNRESERVED = 100
# One reserved execution each, so a job never runs twice at once: the publish sweeper, audit digests,
# account hygiene, the retention check, daily statistics and erasure (tests/infra hold the template
# to this figure).
SCHEDULED_RESERVED = 6
# Lambda's synchronous payload limit ends an archive batch of reads with images before its 500.
LAMBDA_PAYLOAD_BYTES = 6 * MiB
KINESIS_EVENT_RECORD_OVERHEAD_BYTES = 500  # the event's fields around each record's base64

MATCH_PARALLELIZATION_FACTOR = 2
ARCHIVE_PARALLELIZATION_FACTOR = 1
ARCHIVE_BATCH_SIZE = 500
ARCHIVE_BATCHING_WINDOW_S = 30


class CapacityError(ValueError):
    """The stage's design peak does not fit the quotas the stage says the account holds."""


@dataclass(frozen=True, slots=True)
class Capacity:
    """What `peak_reads_per_s` needs, for reads of `read_bytes` and rows of `row_bytes`."""

    peak_reads_per_s: int
    read_bytes: int = DESIGN_READ_BYTES
    row_bytes: int = DESIGN_ROW_BYTES
    utilisation: float = TARGET_UTILISATION

    @property
    def stream_write_bytes_per_s(self) -> float:
        return self.peak_reads_per_s * self.read_bytes

    @property
    def shards(self) -> int:
        """Provisioned shards: bytes and records a second, each shard at most `utilisation` full."""
        by_bytes = self.stream_write_bytes_per_s / (KINESIS_SHARD_WRITE_BYTES_PER_S * self.utilisation)
        by_records = self.peak_reads_per_s / (KINESIS_SHARD_WRITE_RECORDS_PER_S * self.utilisation)
        return max(1, math.ceil(by_bytes), math.ceil(by_records))

    @property
    def on_demand_mb_per_s(self) -> float:
        """The write throughput an on-demand stream must scale to (MB/s, as AWS states its limit)."""
        return self.stream_write_bytes_per_s / 1_000_000 / self.utilisation

    def match_concurrency(self, shards: int) -> int:
        """Every shard's batches run at once, `MATCH_PARALLELIZATION_FACTOR` a shard: with no
        batching window and enhanced fan-out, a busy shard keeps all of them busy."""
        return shards * MATCH_PARALLELIZATION_FACTOR

    def archive_concurrency(self, shards: int) -> int:
        return shards * ARCHIVE_PARALLELIZATION_FACTOR

    @property
    def rows_mib_per_s(self) -> float:
        return self.peak_reads_per_s * self.row_bytes / MiB

    @property
    def read_rows_quota_mib_per_s(self) -> float:
        """The Firehose Direct PUT throughput quota the read-rows stream needs."""
        return self.rows_mib_per_s / self.utilisation

    def archive_batches_per_s(self, shards: int) -> float:
        """Archive invocations a second at the peak: a batch ends at the payload limit (about 120
        reads with images), at 500 records or after the 30 s window, whichever comes first."""
        per_payload = LAMBDA_PAYLOAD_BYTES // (
            math.ceil(self.read_bytes * 4 / 3) + KINESIS_EVENT_RECORD_OVERHEAD_BYTES
        )
        reads_per_batch = max(1, min(ARCHIVE_BATCH_SIZE, per_payload))
        reads_per_shard_per_s = self.peak_reads_per_s / shards
        seconds_per_batch = min(ARCHIVE_BATCHING_WINDOW_S, reads_per_batch / reads_per_shard_per_s)
        return shards / seconds_per_batch

    def read_rows_records_per_s(self, shards: int) -> float:
        """Firehose records a second: archive puts a batch's rows as whole records of up to 500
        rows (deaggregated by Firehose), one PutRecordBatch call a batch."""
        rows_per_record = min(FIREHOSE_ROWS_PER_RECORD, FIREHOSE_MAX_RECORD_BYTES // self.row_bytes)
        per_batch = math.ceil(min(ARCHIVE_BATCH_SIZE, self.peak_reads_per_s) / rows_per_record)
        return self.archive_batches_per_s(shards) * per_batch

    def lambda_concurrency(self, shards: int, *, match_reserved: int, api_reserved: int) -> int:
        """The account's regional quota the stage needs: the reserved functions (match, api, the
        scheduled jobs' one each), archive and the other functions from the unreserved pool, and the
        100 that must stay unreserved."""
        reserved = match_reserved + api_reserved + SCHEDULED_RESERVED
        return reserved + self.archive_concurrency(shards) + LAMBDA_MIN_UNRESERVED


def check(
    capacity: Capacity,
    *,
    provisioned: bool,
    shards: int,
    shard_quota: int,
    on_demand_quota_mb_per_s: float,
    match_reserved: int,
    api_reserved: int,
    lambda_quota: int,
    read_rows_quota_mib_per_s: float,
) -> list[str]:
    """What does not fit, one sentence each naming the setting and what to request (empty: it fits)."""
    problems: list[str] = []
    if provisioned:
        if shards < capacity.shards:
            problems.append(
                f"stream_shards: {shards} shards carry less than {capacity.peak_reads_per_s} reads/s;"
                f" {capacity.shards} are needed at {TARGET_UTILISATION:.0%} of 1 MiB/s each"
            )
        if shards > shard_quota:
            problems.append(
                f"kinesis_shard_quota: {shards} shards exceed the account's {shard_quota}; request a"
                " Kinesis shard quota raise in eu-west-2 and set kinesis_shard_quota"
            )
    elif capacity.on_demand_mb_per_s > on_demand_quota_mb_per_s:
        problems.append(
            f"kinesis_on_demand_quota_mbps: an on-demand stream scales to {on_demand_quota_mb_per_s:g} MB/s"
            f" in eu-west-2, {capacity.on_demand_mb_per_s:.0f} MB/s are needed; request a raise (support"
            " ticket) or use stream_mode provisioned"
        )
    if match_reserved < capacity.match_concurrency(shards):
        problems.append(
            f"match_reserved_concurrency: {match_reserved} is below the {capacity.match_concurrency(shards)}"
            f" that {shards} shards x {MATCH_PARALLELIZATION_FACTOR} batches use at once"
        )
    needed = capacity.lambda_concurrency(shards, match_reserved=match_reserved, api_reserved=api_reserved)
    if needed > lambda_quota:
        problems.append(
            f"lambda_concurrency_quota: the stage needs {needed} concurrent executions, the account"
            f" holds {lambda_quota}; request a Lambda concurrency raise in eu-west-2"
        )
    if capacity.read_rows_quota_mib_per_s > read_rows_quota_mib_per_s:
        problems.append(
            f"read_rows_quota_mibps: {capacity.read_rows_quota_mib_per_s:.1f} MiB/s of rows need a Firehose"
            f" Direct PUT quota above the {read_rows_quota_mib_per_s:g} MiB/s declared (London default"
            f" {FIREHOSE_DEFAULT_MIB_PER_S:g}); request it for the read-rows stream"
        )
    records_quota = read_rows_quota_mib_per_s * FIREHOSE_DEFAULT_RECORDS_PER_S_PER_MIB * capacity.utilisation
    if capacity.read_rows_records_per_s(shards) > records_quota:
        problems.append(
            f"read_rows_quota_mibps: {capacity.read_rows_records_per_s(shards):.0f} records/s exceed the"
            f" {records_quota:.0f} a quota of {read_rows_quota_mib_per_s:g} MiB/s allows"
        )
    return problems
