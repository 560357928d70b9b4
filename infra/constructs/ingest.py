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
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        # On-demand: capacity follows the 1,000-10,000 reads/s daily curve without shard planning.
        self.stream = kinesis.Stream(
            self,
            "Reads",
            stream_mode=kinesis.StreamMode.ON_DEMAND,
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=key,
            retention_period=STREAM_RETENTION,
        )
        acknowledge(
            self.stream,
            "AwsSolutions-KDS3",
            "R-CRYPTO requires a customer-managed key with rotation for every stream;"
            " the extra KMS cost is accepted.",
        )
