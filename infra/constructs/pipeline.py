"""The two consumers of the `reads` stream (SPEC §4) and what they write to.

`match` reads through its own enhanced fan-out consumer, so storage faults or archive backlogs
never delay alerts; `archive` reads the shared throughput. Both report partial batch failures,
bisect failing batches, retry a bounded number of times and then set the failed records' stream
positions aside in one encrypted on-failure queue, from which an operator replays them
(R-QUARANTINE: nothing is dropped silently). `archive` sends one JSON row per read to the
read-rows Firehose stream, which writes Parquet under `reads/arrival=…/day=…/vrm_bucket=…/` for
Athena (`nas.domain.layout`).

Design point for the numbers below (docs/capacity.md): 10,000 reads/s sustained, 20,000 at peak; a
read is about 38 KB with its images and a shard takes at most 1 MiB/s of writes (about 27 reads/s,
planned at 22); a row to Firehose is about 0.7 KB.
"""

from __future__ import annotations

from typing import TypedDict

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.capacity import ARCHIVE_PARALLELIZATION_FACTOR, MATCH_PARALLELIZATION_FACTOR
from infra.constructs.analytics import Analytics
from infra.constructs.keys import (
    KEY_DECRYPT,
    KEY_ENCRYPT_DECRYPT,
    KEY_TABLE_ITEMS,
    Via,
    grant_via,
    keyless_bucket,
    keyless_queue,
    keyless_stream,
)
from infra.constructs.runtime import LambdaRuntime
from infra.constructs.tables import Tables, grant_item_updates, grant_items
from infra.nag import acknowledge, arn_in_finding
from nas import catalogue

ROWS_BUFFER_S = 300
"""The most the read-rows Firehose holds a row before writing it to the reads store: how late a read
becomes searchable (and what a retro-hunt waits for, `retro_hunt.HUNT_DELAY`)."""

MATCH = "Match"
ARCHIVE = "Archive"
PUBLISH_SWEEPER = "PublishSweeper"
# Consumer names are scoped to their stream (one per stage), so a fixed, telling name is safe.
MATCH_CONSUMER_NAME = "match"
# What match and the publish sweeper may update on an alert: its key, `published` and the sparse
# index attribute removed with it (`DynamoAlertStore.mark_published`), nothing else.
ALERT_PUBLISH_UPDATE = (catalogue.ALERT_KEY_ATTRIBUTE, *catalogue.ALERT_PUBLISH_ATTRIBUTES)
# The sweeper runs every minute and publishes what is still unpublished a minute after it was raised.
SWEEP_EVERY = cdk.Duration.minutes(1)
# Records Firehose could not convert or deliver, kept in the reads bucket so the 367-day expiry
# (R-RET-367) covers them too; outside `reads/`, so Athena never reads them.
FIREHOSE_ERRORS_ROOT = "firehose-errors/"
FIREHOSE_ERRORS_PREFIX = f"{FIREHOSE_ERRORS_ROOT}!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd}}/"
# Firehose's partition keys come from the row's `arrival`, `day` and `vrm_bucket`, which archive
# adds to each row only for this (`nas.domain.layout`); the Glue table's columns do not include them.
READ_ROWS_PREFIX = catalogue.READS_PREFIX + "".join(
    f"{name}=!{{partitionKeyFromQuery:{name}}}/" for name, _ in catalogue.READ_PARTITION_KEYS
)
# JQ: each key as a string (the bucket is a number in the row).
PARTITION_KEYS_QUERY = (
    "{" + ", ".join(f"{name}: (.{name} | tostring)" for name, _ in catalogue.READ_PARTITION_KEYS) + "}"
)
# On-failure messages say which shard and sequence range failed, not what the records held; the
# records stay in the stream for its 7 days. The SQS maximum keeps a failure on record past that,
# so one noticed late is still listed even when it can no longer be replayed.
FAILURE_RETENTION = cdk.Duration.days(14)
DeliveryStream = firehose.CfnDeliveryStream
# Match retries a failing batch (halved each time) for up to ten minutes, then sets it aside.
MATCH_RETRY_ATTEMPTS = 10
MATCH_MAX_RECORD_AGE = cdk.Duration.minutes(10)
# Archive retries until a day before the stream (7 days) would trim the records.
ARCHIVE_MAX_RECORD_AGE = cdk.Duration.days(6)


class StreamSourceOptions(TypedDict):
    """What both event source mappings share."""

    starting_position: lambda_.StartingPosition
    report_batch_item_failures: bool
    bisect_batch_on_error: bool
    on_failure: lambda_.IEventSourceDlq


class Pipeline(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: LambdaRuntime,
        stream: kinesis.IStream,
        tables: Tables,
        reads_bucket: s3.IBucket,
        quarantine_bucket: s3.IBucket,
        storage_key: kms.IKey,
        stream_key: kms.IKey,
        tables_key: kms.IKey,
        queues_key: kms.IKey,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        alert_bus: events.IEventBus,
        analytics: Analytics,
        match_reserved_concurrency: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self._match_reserved_concurrency = match_reserved_concurrency
        self.match_service = runtime.service_name(MATCH)
        self.archive_service = runtime.service_name(ARCHIVE)
        self._stream_key = stream_key
        self._queues_key = queues_key
        self.failures = self._failure_queue(queues_key)
        self.read_rows = self._read_rows_delivery(
            reads_bucket=reads_bucket,
            storage_key=storage_key,
            stream_key=stream_key,
            logs_key=logs_key,
            log_retention=log_retention,
            analytics=analytics,
        )
        # Event sources get the stream without its key; `_grant_consumer_keys` grants the key.
        stream = keyless_stream(stream)
        self.match = self._match(runtime, stream, tables, tables_key, alert_bus)
        self.archive = self._archive(
            runtime, stream, tables, tables_key, reads_bucket, quarantine_bucket, storage_key
        )
        # Schema changes are additive and reach Glue first (docs/capacity.md): a column Firehose's
        # conversion does not know is dropped without a word.
        self.archive.node.add_dependency(analytics.reads_table)
        self.publish_sweeper = self._publish_sweeper(runtime, tables, tables_key, alert_bus)

    # --- on-failure destination -------------------------------------------------------------------

    def _failure_queue(self, key: kms.IKey) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "ConsumerFailures",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=FAILURE_RETENTION,
        )
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter destination of the stream consumers: it holds shard"
            " and sequence ranges for an operator to replay, nothing consumes it, so a redrive queue"
            " behind it would never receive anything.",
        )
        return queue

    def _stream_source_options(self) -> StreamSourceOptions:
        return {
            "starting_position": lambda_.StartingPosition.TRIM_HORIZON,  # a new mapping misses nothing
            "report_batch_item_failures": True,  # one bad record never blocks those behind it
            "bisect_batch_on_error": True,  # a batch that fails as a whole is halved to find the culprit
            # Without its key: `_grant_consumer_keys` grants the key, through SQS only.
            "on_failure": sources.SqsDlq(keyless_queue(self.failures)),
        }

    def _grant_consumer_keys(self, function: lambda_.Function) -> None:
        """The keys every stream consumer uses, each only through its service: the stream's, which
        Kinesis decrypts records with, and the queues', which SQS encrypts on-failure records with."""
        grant_via(self._stream_key, function, Via.KINESIS, *KEY_DECRYPT)
        grant_via(self._queues_key, function, Via.SQS, *KEY_ENCRYPT_DECRYPT)

    # --- match ----------------------------------------------------------------------------------

    def _match(
        self,
        runtime: LambdaRuntime,
        stream: kinesis.IStream,
        tables: Tables,
        tables_key: kms.IKey,
        alert_bus: events.IEventBus,
    ) -> lambda_.Function:
        voi, cameras, alerts = (tables.table(t) for t in (catalogue.VOI, catalogue.CAMERAS, catalogue.ALERTS))
        function = runtime.function(
            MATCH,
            handler="handlers.match.lambda_handler",
            description="NAS match consumer: reads against VOI lists, alerts (R-ALERT)",
            environment={
                catalogue.VOI.env_var: voi.table_name,
                catalogue.CAMERAS.env_var: cameras.table_name,
                catalogue.ALERTS.env_var: alerts.table_name,
                catalogue.ALERT_BUS_ENV: alert_bus.event_bus_name,
            },
            # CPU scales with memory: a 5 MB batch is decoded and validated inside the alert budget.
            memory_size=1024,
            timeout_seconds=30,
            # Every shard's batches at once (shards x parallelization factor): neither archive nor the
            # API can take the concurrency alerts need, and match cannot take more than that.
            reserved_concurrency=self._match_reserved_concurrency,
        )
        # R-CAMERA check of each read; the VOI state item (GetItem, every few seconds), then the match,
        # directory, bucket and filter items of the batch's VRMs: lookups only.
        grant_items(voi, function, "dynamodb:GetItem", "dynamodb:BatchGetItem")
        grant_items(cameras, function, "dynamodb:BatchGetItem")
        # R-DUP: conditional put of a new alert (the stored one comes back on a clash, or is read
        # back), then marked published; the update may touch the publishing flags and nothing else.
        grant_items(alerts, function, "dynamodb:PutItem", "dynamodb:GetItem")
        grant_item_updates(alerts, function, ALERT_PUBLISH_UPDATE)
        # DynamoDB decrypts the table key as the caller; writes also encrypt.
        grant_via(tables_key, function, Via.DYNAMODB, *KEY_TABLE_ITEMS)
        self._grant_consumer_keys(function)
        alert_bus.grant_put_events_to(function)

        consumer = kinesis.StreamConsumer(
            self, "MatchConsumer", stream=stream, stream_consumer_name=MATCH_CONSUMER_NAME
        )
        function.add_event_source(
            sources.KinesisConsumerEventSource(
                consumer,
                **self._stream_source_options(),
                # BatchGetItem takes 100 keys, so one VOI lookup serves a whole batch; 100 reads
                # (about 5 MB once Kinesis base64-encodes them) stay under the 6 MB payload limit.
                batch_size=100,
                # Enhanced fan-out pushes records as they arrive; any wait adds to capture→alert
                # latency (R-ALERT: p99 under 2 s).
                max_batching_window=cdk.Duration.seconds(0),
                # One invocation keeps up with a full shard (27 reads/s) in well under a second;
                # two per shard let a batch being retried hold up only half the shard's cameras.
                # Order per camera (the partition key) is kept either way.
                parallelization_factor=MATCH_PARALLELIZATION_FACTOR,
                # Transient faults (throttling, a slow dependency) are retried, halving the batch each
                # time; a record still failing when it is MATCH_MAX_RECORD_AGE old is set aside (the
                # on-failure queue alarms, `nas replay failures` re-sends it), so what is set aside is
                # minutes old, not hours, and the alerts behind it are not held up for longer.
                retry_attempts=MATCH_RETRY_ATTEMPTS,
                max_record_age=MATCH_MAX_RECORD_AGE,
            )
        )
        self._acknowledge_grants(
            function,
            {
                "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]": "The on-failure queue's SQS"
                " encryption: sending a failure record needs a data key; limited to the queues key"
                " and to requests SQS makes (kms:ViaService).",
                "AwsSolutions-IAM5[Action::kms:ReEncrypt*]": "Part of CDK's grant for sending to a"
                " KMS-encrypted queue, limited to the queues key and to requests SQS makes.",
            },
        )
        return function

    # --- publish sweeper ------------------------------------------------------------------------

    def _publish_sweeper(
        self, runtime: LambdaRuntime, tables: Tables, tables_key: kms.IKey, alert_bus: events.IEventBus
    ) -> lambda_.Function:
        """R-ALERT, exactly once in effect: alerts match stored but left unpublished (a failed mark,
        an entry deleted before a retry) are published as stored a minute later."""
        alerts = tables.table(catalogue.ALERTS)
        function = runtime.function(
            PUBLISH_SWEEPER,
            handler="handlers.publish_sweeper.lambda_handler",
            description="NAS publish sweeper: alerts left unpublished, published as stored (R-ALERT)",
            environment={
                catalogue.ALERTS.env_var: alerts.table_name,
                catalogue.ALERT_BUS_ENV: alert_bus.event_bus_name,
            },
            memory_size=256,
            timeout_seconds=60,
            # One sweep at a time: two would publish the same alerts twice.
            reserved_concurrency=1,
        )
        # Only the sparse index of unpublished alerts, and only the publishing flags of an alert.
        iam.Grant.add_to_principal(
            grantee=function,
            actions=["dynamodb:Query"],
            resource_arns=[f"{alerts.table_arn}/index/{catalogue.ALERT_PUBLISH_PENDING_INDEX}"],
        )
        grant_item_updates(alerts, function, ALERT_PUBLISH_UPDATE)
        grant_via(tables_key, function, Via.DYNAMODB, *KEY_TABLE_ITEMS)
        alert_bus.grant_put_events_to(function)
        events.Rule(
            self,
            "PublishSweep",
            description="Every minute: publish alerts left unpublished (R-ALERT)",
            schedule=events.Schedule.rate(SWEEP_EVERY),
            targets=[targets.LambdaFunction(function, retry_attempts=0)],  # the next minute retries
        )
        return function

    # --- archive --------------------------------------------------------------------------------

    def _archive(
        self,
        runtime: LambdaRuntime,
        stream: kinesis.IStream,
        tables: Tables,
        tables_key: kms.IKey,
        reads_bucket: s3.IBucket,
        quarantine_bucket: s3.IBucket,
        storage_key: kms.IKey,
    ) -> lambda_.Function:
        cameras = tables.table(catalogue.CAMERAS)
        function = runtime.function(
            ARCHIVE,
            handler="handlers.archive.lambda_handler",
            description="NAS archive consumer: packed images, read rows, quarantine (SPEC §4)",
            environment={
                catalogue.CAMERAS.env_var: cameras.table_name,
                catalogue.Bucket.READS.env_var: reads_bucket.bucket_name,
                catalogue.Bucket.QUARANTINE.env_var: quarantine_bucket.bucket_name,
                catalogue.READ_ROWS_DELIVERY_ENV: self.read_rows.ref,
            },
            # Holds a 6 MB batch, its decoded images and the pack being built; CPU scales with it.
            memory_size=1024,
            # One S3 put of a few MB and one Firehose batch, with the SDKs' own retries.
            timeout_seconds=120,
        )
        grant_items(cameras, function, "dynamodb:BatchGetItem")
        grant_via(tables_key, function, Via.DYNAMODB, *KEY_DECRYPT)
        # Packed images only under images/, quarantined records only under quarantine/; the storage
        # key only for S3 to encrypt them with.
        keyless_bucket(reads_bucket).grant_put(function, f"{catalogue.IMAGES_PREFIX}*")
        keyless_bucket(quarantine_bucket).grant_put(function, f"{catalogue.QUARANTINE_PREFIX}*")
        grant_via(storage_key, function, Via.S3, *KEY_ENCRYPT_DECRYPT)
        self._grant_consumer_keys(function)
        iam.Grant.add_to_principal(
            grantee=function, actions=["firehose:PutRecordBatch"], resource_arns=[self.read_rows.attr_arn]
        )

        function.add_event_source(
            sources.KinesisEventSource(
                stream,
                **self._stream_source_options(),
                # The 6 MB payload limit, not this number, ends a batch of reads with images (about
                # 120); set above it so each image pack is as big as a payload allows, and at
                # Firehose's 500 records per PutRecordBatch for reads without images.
                batch_size=500,
                # Waits up to 30 s to fill a batch: at night a shard brings ~5 reads/s, and bigger
                # packs mean fewer S3 PUTs (SPEC §4). Firehose's 300 s buffer dominates storage
                # latency anyway.
                max_batching_window=cdk.Duration.seconds(30),
                # One invocation per shard handles a full shard's 1 MB/s; splitting a shard's
                # batches across invocations would only make smaller packs and use more concurrency.
                parallelization_factor=ARCHIVE_PARALLELIZATION_FACTOR,
                # Off the alert path: storage faults (S3, Firehose throttling) are retried until the
                # record is ARCHIVE_MAX_RECORD_AGE old (-1: no attempt limit), and only then set aside,
                # while the stream (7 days) still holds it for a day for `nas replay failures`.
                retry_attempts=-1,
                max_record_age=ARCHIVE_MAX_RECORD_AGE,
            )
        )
        images = f"{arn_in_finding(reads_bucket)}/{catalogue.IMAGES_PREFIX}*"
        quarantined = f"{arn_in_finding(quarantine_bucket)}/{catalogue.QUARANTINE_PREFIX}*"
        self._acknowledge_grants(
            function,
            {
                f"AwsSolutions-IAM5[Resource::{images}]": "Packed image objects have generated keys;"
                " the grant is limited to the images/ prefix.",
                f"AwsSolutions-IAM5[Resource::{quarantined}]": "Quarantined records have generated keys;"
                " the grant is limited to the quarantine/ prefix (R-QUARANTINE).",
                "AwsSolutions-IAM5[Action::s3:Abort*]": "CDK's put grant lets the writer abort its own"
                " incomplete uploads, on the same prefixes only.",
                "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]": "SSE-KMS object writes and the"
                " encrypted on-failure queue need data keys; limited to the storage and queues keys"
                " and to requests S3 and SQS make (kms:ViaService).",
                "AwsSolutions-IAM5[Action::kms:ReEncrypt*]": "Part of CDK's put and queue-send grants"
                " for KMS-encrypted buckets and queues, limited to the storage and queues keys and to"
                " requests S3 and SQS make.",
            },
        )
        return function

    # --- read rows: Firehose → Parquet ----------------------------------------------------------

    def _read_rows_delivery(
        self,
        *,
        reads_bucket: s3.IBucket,
        storage_key: kms.IKey,
        stream_key: kms.IKey,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        analytics: Analytics,
    ) -> firehose.CfnDeliveryStream:
        stack = cdk.Stack.of(self)
        log_group = logs.LogGroup(
            self,
            "ReadRowsDeliveryLogs",
            encryption_key=logs_key,
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        log_stream = logs.LogStream(self, "ReadRowsDeliveryErrors", log_group=log_group)
        role = iam.Role(
            self,
            "ReadRowsDeliveryRole",
            description="Firehose read rows: write Parquet to the reads bucket, read the Glue schema",
            # Only Firehose acting for this account may assume it (confused-deputy guard).
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com", conditions={"StringEquals": {"sts:ExternalId": stack.account}}
            ),
        )
        keyless_bucket(reads_bucket).grant_put(role, f"{catalogue.READS_PREFIX}*")
        keyless_bucket(reads_bucket).grant_put(role, f"{FIREHOSE_ERRORS_ROOT}*")
        grant_via(storage_key, role, Via.S3, *KEY_ENCRYPT_DECRYPT)
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
            resource_arns=[reads_bucket.bucket_arn],
        )
        glue_arn = f"arn:{stack.partition}:glue:{stack.region}:{stack.account}"
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
            resource_arns=[
                f"{glue_arn}:catalog",
                f"{glue_arn}:database/{analytics.database_name}",
                f"{glue_arn}:table/{analytics.database_name}/{catalogue.GLUE_READS_TABLE}",
            ],
        )
        log_group.grant(role, "logs:PutLogEvents")
        reads_arn = arn_in_finding(reads_bucket)
        for rule, reason in {
            f"Resource::{reads_arn}/{catalogue.READS_PREFIX}*": "Firehose names Parquet objects itself;"
            " the grant is limited to the reads/ prefix.",
            f"Resource::{reads_arn}/{FIREHOSE_ERRORS_ROOT}*": "Firehose names error objects itself; the"
            " grant is limited to the firehose-errors/ prefix.",
        }.items():
            acknowledge(role, f"AwsSolutions-IAM5[{rule}]", reason)
        for action, reason in {
            "s3:Abort*": "Lets Firehose abort its own incomplete multipart uploads on the same prefixes.",
            "kms:GenerateDataKey*": "SSE-KMS writes need data keys; limited to the storage key and"
            " to requests S3 makes (kms:ViaService).",
            "kms:ReEncrypt*": "Part of CDK's put grant for a KMS-encrypted bucket, limited to the"
            " storage key and to requests S3 makes.",
        }.items():
            acknowledge(role, f"AwsSolutions-IAM5[Action::{action}]", reason)

        delivery = firehose.CfnDeliveryStream(
            self,
            "ReadRows",
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=DeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="CUSTOMER_MANAGED_CMK", key_arn=stream_key.key_arn
            ),
            extended_s3_destination_configuration=DeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=reads_bucket.bucket_arn,
                role_arn=role.role_arn,
                prefix=READ_ROWS_PREFIX,
                error_output_prefix=FIREHOSE_ERRORS_PREFIX,
                # Parquet compresses itself (SNAPPY below); Firehose requires this with conversion.
                compression_format="UNCOMPRESSED",
                # The largest buffer, for as few Parquet files per day as the layout allows: buffers
                # are per partition (64 VRM buckets), so even at peak (about 15 MiB/s of rows, about
                # 240 KB/s a bucket) 300 s, not 128 MB, ends each one, and caps how late a read
                # becomes searchable. Active partitions: live reads of up to 3 capture days (24 hours
                # back and 5 minutes ahead, across midnight) in 64 buckets and late reads of 2 storage
                # days in 8, 3 x 64 + 2 x 8 = 208, under the 500 a delivery stream has by default
                # (docs/search.md).
                buffering_hints=DeliveryStream.BufferingHintsProperty(
                    size_in_m_bs=128, interval_in_seconds=ROWS_BUFFER_S
                ),
                encryption_configuration=DeliveryStream.EncryptionConfigurationProperty(
                    kms_encryption_config=DeliveryStream.KMSEncryptionConfigProperty(
                        awskms_key_arn=storage_key.key_arn
                    )
                ),
                cloud_watch_logging_options=DeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
                s3_backup_mode="Disabled",
                dynamic_partitioning_configuration=DeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True,
                    # How long a failing S3 delivery is retried before its rows go to firehose-errors/
                    # (where they are kept, not lost); five minutes rides out throttling.
                    retry_options=DeliveryStream.RetryOptionsProperty(duration_in_seconds=300),
                ),
                processing_configuration=DeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[
                        # Archive sends a batch's rows as one record (JSON lines, at most 500): split
                        # again before partitioning and conversion (docs/capacity.md: records a second).
                        DeliveryStream.ProcessorProperty(
                            type="RecordDeAggregation",
                            parameters=[
                                DeliveryStream.ProcessorParameterProperty(
                                    parameter_name="SubRecordType", parameter_value="JSON"
                                )
                            ],
                        ),
                        DeliveryStream.ProcessorProperty(
                            type="MetadataExtraction",
                            parameters=[
                                DeliveryStream.ProcessorParameterProperty(
                                    parameter_name="MetadataExtractionQuery",
                                    parameter_value=PARTITION_KEYS_QUERY,
                                ),
                                DeliveryStream.ProcessorParameterProperty(
                                    parameter_name="JsonParsingEngine", parameter_value="JQ-1.6"
                                ),
                            ],
                        ),
                        # One row per record; the default delimiter is a newline.
                        DeliveryStream.ProcessorProperty(type="AppendDelimiterToRecord"),
                    ],
                ),
                data_format_conversion_configuration=DeliveryStream.DataFormatConversionConfigurationProperty(
                    enabled=True,
                    # Archive sends timestamps as epoch milliseconds (numbers), the unambiguous form.
                    input_format_configuration=DeliveryStream.InputFormatConfigurationProperty(
                        deserializer=DeliveryStream.DeserializerProperty(
                            hive_json_ser_de=DeliveryStream.HiveJsonSerDeProperty(
                                timestamp_formats=["millis"]
                            )
                        )
                    ),
                    output_format_configuration=DeliveryStream.OutputFormatConfigurationProperty(
                        serializer=DeliveryStream.SerializerProperty(
                            parquet_ser_de=DeliveryStream.ParquetSerDeProperty(compression="SNAPPY")
                        )
                    ),
                    # The columns come from the Glue `reads` table Athena searches: one schema.
                    schema_configuration=DeliveryStream.SchemaConfigurationProperty(
                        catalog_id=stack.account,
                        database_name=analytics.database_name,
                        table_name=catalogue.GLUE_READS_TABLE,
                        region=stack.region,
                        role_arn=role.role_arn,
                        version_id="LATEST",
                    ),
                ),
            ),
        )
        # The role's policy must exist before Firehose first writes, and the schema before it reads it.
        delivery.node.add_dependency(role)
        delivery.node.add_dependency(analytics.reads_table)
        return delivery

    @staticmethod
    def _acknowledge_grants(function: lambda_.Function, reasons: dict[str, str]) -> None:
        """Findings on the function's grants are on its role's policy."""
        role = function.role
        assert role is not None, f"{function.node.path} has no role"
        for rule, reason in reasons.items():
            acknowledge(role, rule, reason)
