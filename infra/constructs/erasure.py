"""R-SAR erasure in AWS: the function that carries out a granted erasure (rewrites the VRM's Parquet
files without its rows and blanks its images in their packs), its own layer with pyarrow, and the
queue through which the api hands it the work (docs/reads.md, "Data-subject requests").

- The api records the decision with the erasure pending and sends the request id to `queue`; it gets
  `sqs:SendMessage` on that queue and the queues key through SQS, nothing of the function's rights.
- The function takes one message at a time, and one function runs at a time (reserved concurrency 1):
  two erasures rewriting the same Parquet file at once would each write back the other's VRM.
- A message that fails `catalogue.ERASURE_MAX_RECEIVES` times goes to `dead_letters` (its last attempt
  marks the request failed); any message there raises an alarm, and a redrive carries it out.
- Grants: object reads, writes and deletes (of versions too: old versions of a rewritten file hold the
  erased rows) under `reads/` and `images/` of the reads bucket only, and listing of those prefixes;
  the subject request read and its `outcome` (and `version`) updated, nothing else of it; the
  corrections and preservations indexes read.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundling import LAMBDA_PLATFORM, LAMBDA_PLATFORM_2_28, PipLayerBundling, source_hash
from infra.constructs.jobs import JOB_TIMEOUT_S, alarm
from infra.constructs.keys import KEY_DECRYPT, KEY_TABLE_ITEMS, Via, grant_via, keyless_queue
from infra.constructs.runtime import PROJECT_ROOT, PYTHON_RUNTIME, LambdaRuntime
from infra.constructs.tables import Tables, grant_index_queries, grant_item_updates, grant_items
from infra.nag import acknowledge, arn_in_finding
from nas import catalogue

ERASURE_LAYER_DIR = PROJECT_ROOT / "layers" / "erasure"
ERASURE_MEMORY_MB = 3008
"""A Parquet file is read whole and written back; memory also buys CPU for the rewrite."""
VISIBILITY_TIMEOUT = cdk.Duration.seconds(6 * JOB_TIMEOUT_S)
"""AWS's advice for a Lambda-consumed queue: six times the function's timeout, so a message is not
handed out again while an attempt (and its retries by the poller) may still run."""
DEAD_LETTER_RETENTION = cdk.Duration.days(14)
"""SQS's longest: a failed erasure waits this long for an operator to redrive it (the alarm fires at
once)."""
PREFIXES = (f"{catalogue.READS_PREFIX}*", f"{catalogue.IMAGES_PREFIX}*")


class Erasure(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: LambdaRuntime,
        api_function: lambda_.Function,
        tables: Tables,
        reads_bucket: s3.IBucket,
        storage_key: kms.IKey,
        tables_key: kms.IKey,
        queues_key: kms.IKey,
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        requirements = ERASURE_LAYER_DIR / "requirements.txt"
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            description="NAS erasure: pyarrow, to rewrite the reads' Parquet (R-SAR)",
            compatible_runtimes=[PYTHON_RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            code=lambda_.Code.from_asset(
                str(ERASURE_LAYER_DIR),
                asset_hash_type=cdk.AssetHashType.CUSTOM,
                asset_hash=source_hash(requirements, None),
                bundling=cdk.BundlingOptions(
                    # Never pulled: local bundling always succeeds or raises (no Docker here).
                    image=cdk.DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
                    local=PipLayerBundling(  # type: ignore[arg-type]
                        requirements, None, (LAMBDA_PLATFORM, LAMBDA_PLATFORM_2_28)
                    ),
                ),
            ),
        )
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=queues_key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the erasure queue: an operator redrives its"
            " messages after the alarm; a queue behind it would never receive anything.",
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=queues_key,
            enforce_ssl=True,
            visibility_timeout=VISIBILITY_TIMEOUT,
            retention_period=DEAD_LETTER_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letters, max_receive_count=catalogue.ERASURE_MAX_RECEIVES
            ),
        )
        self.function = runtime.function(
            "Erasure",
            handler="handlers.erasure.lambda_handler",
            description="NAS R-SAR erasure: rewrites Parquet without the VRM's rows, blanks its images",
            environment={
                catalogue.Bucket.READS.env_var: reads_bucket.bucket_name,
                **{
                    spec.env_var: tables.table(spec).table_name
                    for spec in (catalogue.SUBJECT_REQUESTS, catalogue.CORRECTIONS, catalogue.PRESERVATIONS)
                },
            },
            memory_size=ERASURE_MEMORY_MB,
            timeout_seconds=JOB_TIMEOUT_S,
            reserved_concurrency=1,
            extra_layers=[self.layer],
        )
        # Without the queue's key: the key is granted below, through SQS only.
        self.function.add_event_source(
            sources.SqsEventSource(keyless_queue(self.queue), batch_size=1, report_batch_item_failures=True)
        )
        grant_via(queues_key, self.function, Via.SQS, *KEY_DECRYPT)
        self._table_grants(tables, tables_key)
        self._bucket_grants(reads_bucket, storage_key)
        # The api: sends the request id, nothing else.
        api_function.add_environment(catalogue.ERASURE_QUEUE_ENV, self.queue.queue_url)
        keyless_queue(self.queue).grant_send_messages(api_function)
        grant_via(queues_key, api_function, Via.SQS, "kms:GenerateDataKey", "kms:Decrypt")
        self.alarm = alarm(
            self,
            "Failed",
            alarm_topic,
            description="A granted erasure (R-SAR) failed every attempt: its message is in the"
            " dead-letter queue; fix the cause, then redrive it",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
        )

    def _table_grants(self, tables: Tables, tables_key: kms.IKey) -> None:
        requests = tables.table(catalogue.SUBJECT_REQUESTS)
        grant_items(requests, self.function, "dynamodb:GetItem")
        grant_item_updates(
            requests,
            self.function,
            (catalogue.SUBJECT_REQUEST_KEY_ATTRIBUTE, *catalogue.SUBJECT_REQUEST_OUTCOME_ATTRIBUTES),
        )
        # Which rows show the VRM (corrections to and from it), and which preservations hold it.
        grant_index_queries(tables.table(catalogue.CORRECTIONS), catalogue.CORRECTIONS, self.function)
        grant_index_queries(tables.table(catalogue.PRESERVATIONS), catalogue.PRESERVATIONS, self.function)
        grant_via(tables_key, self.function, Via.DYNAMODB, *KEY_TABLE_ITEMS)

    def _bucket_grants(self, reads: s3.IBucket, storage_key: kms.IKey) -> None:
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:AbortMultipartUpload",
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                ],
                resources=[reads.arn_for_objects(p) for p in PREFIXES],
            )
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:ListBucketVersions"],
                resources=[reads.bucket_arn],
                conditions={"StringLike": {"s3:prefix": list(PREFIXES)}},
            )
        )
        grant_via(storage_key, self.function, Via.S3, "kms:Decrypt", "kms:GenerateDataKey")
        assert self.function.role is not None
        for prefix in PREFIXES:
            acknowledge(
                self.function.role,
                f"AwsSolutions-IAM5[Resource::{arn_in_finding(reads)}/{prefix}]",
                "R-SAR erasure rewrites whichever Parquet files and image packs hold the VRM, found by"
                " listing its partitions; their keys are not known in advance, so the prefix is the"
                " narrowest resource. Nothing outside the read rows and packs is granted.",
            )
