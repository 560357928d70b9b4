"""The `reads` Kinesis stream cameras post to (SPEC §4)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.nag import acknowledge

# Seven days of replay: a consumer outage over a long weekend loses nothing (R-QUARANTINE: nothing
# is dropped), at the cost of extended retention on a few GB an hour.
STREAM_RETENTION = cdk.Duration.days(7)


class Ingest(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        shards: int | None,
        warm_throughput_mibps: int | None = None,
    ) -> None:
        """`shards`: a provisioned stream of that many shards (sized for the stage's peak: far cheaper
        than on-demand at the national rate, and no warm-up), or None for on-demand, which starts at
        4 MB/s and scales to 200 MB/s in London; `warm_throughput_mibps` keeps an on-demand stream
        warm (accounts with On-demand Advantage only). docs/capacity.md has the arithmetic."""
        super().__init__(scope, construct_id)
        self.stream = kinesis.Stream(
            self,
            "Reads",
            stream_mode=kinesis.StreamMode.ON_DEMAND if shards is None else kinesis.StreamMode.PROVISIONED,
            shard_count=shards,
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=key,
            retention_period=STREAM_RETENTION,
        )
        if warm_throughput_mibps is not None:
            stream = self.stream.node.default_child
            assert isinstance(stream, kinesis.CfnStream)
            stream.warm_throughput_mi_bps = warm_throughput_mibps
        acknowledge(
            self.stream,
            "AwsSolutions-KDS3",
            "R-CRYPTO requires a customer-managed key with rotation for every stream;"
            " the extra KMS cost is accepted.",
        )
